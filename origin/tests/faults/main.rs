//! Fault tests of the origin on the distributed backends (S3 on the test
//! server, memory in front of Redis): with Redis unreachable every manifest
//! and segment is still served correctly; with S3 unreachable the origin
//! answers 503 with `Retry-After`, never 500; and its media cache in front
//! of S3 ([`media_cache`]).

mod media_cache;
mod proxy;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use goflix_origin::Origin;
use goflix_shared::cache::{self, ManifestCache};
use goflix_shared::config::Cache;
use goflix_shared::domain::VideoId;
use goflix_shared::layout;
use goflix_shared::store::{ObjectStore, S3Store, Store};
use goflix_testkit::data::pseudo_random;
use goflix_testkit::s3::{s3_options, s3_options_at, S3sFs};
use goflix_testkit::var;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An origin on port 0, in its own actix system on a thread.
struct TestOrigin {
    addr: SocketAddr,
    handle: ServerHandle,
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn spawn_origin(store: Store, cache: Arc<dyn ManifestCache>) -> TestOrigin {
    spawn(Origin::new(store, cache, None))
}

/// Serves `origin` on port 0, in its own actix system on a thread.
fn spawn(origin: Origin) -> TestOrigin {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let origin = origin.clone();
                App::new().configure(move |cfg| origin.configure(cfg))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
            tx.send(server.handle()).unwrap();
            server.await
        })
    });
    TestOrigin {
        addr,
        handle: rx.recv().unwrap(),
    }
}

/// A response as it came off the wire (the origin sends sized bodies).
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl TestOrigin {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut bytes))
            .await
            .expect("response within 60 s")
            .unwrap();
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = std::str::from_utf8(&bytes[..split]).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Response {
            status: status.parse().unwrap(),
            headers,
            body: bytes[split + 4..].to_vec(),
        }
    }
}

/// A public video as the transcoder lays it out.
struct Published {
    video: VideoId,
    version: String,
    files: Vec<(&'static str, Vec<u8>)>,
}

impl Published {
    fn file(&self, name: &str) -> &[u8] {
        &self.files.iter().find(|(n, _)| *n == name).unwrap().1
    }
    fn path(&self, name: &str) -> String {
        format!("/v/{}/{}/{name}", self.video, self.version)
    }
}

async fn publish(store: &Store) -> Published {
    let video = VideoId::new();
    let version = layout::new_version();
    let master = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-STREAM-INF:BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720\n\
         {version}/720p.m3u8\n"
    );
    let playlist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n\
         #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"720p.mp4\",BYTERANGE=\"1000@0\"\n\
         #EXTINF:4.0,\n#EXT-X-BYTERANGE:150000@1000\n720p.mp4\n\
         #EXTINF:4.0,\n#EXT-X-BYTERANGE:149000@151000\n720p.mp4\n#EXT-X-ENDLIST\n";
    let mpd = format!(
        "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">\
         <Period><AdaptationSet contentType=\"video\"><Representation id=\"720p\" bandwidth=\"2000000\">\
         <BaseURL>{version}/720p.mp4</BaseURL><SegmentBase indexRange=\"800-999\"/></Representation>\
         </AdaptationSet></Period></MPD>\n"
    );
    let files = vec![
        ("master.m3u8", master.into_bytes()),
        ("720p.m3u8", playlist.as_bytes().to_vec()),
        ("manifest.mpd", mpd.into_bytes()),
        ("720p.mp4", pseudo_random(300_000, 7)),
    ];
    for (name, bytes) in &files {
        let key = layout::media_file(video, &version, name).unwrap();
        store.put_bytes(&key, bytes.clone().into()).await.unwrap();
    }
    put_record(store, video, &version, false).await;
    Published {
        video,
        version,
        files,
    }
}

/// Publishes `version` of `video`, public; `live` while still encoding.
async fn put_record(store: &Store, video: VideoId, version: &str, live: bool) {
    let record = serde_json::json!({
        "version": version,
        "visibility": "public",
        "updated_at": "2025-01-01T00:00:00Z",
        "live": live,
    });
    store
        .put_bytes(
            &layout::playback_record(video),
            serde_json::to_vec(&record).unwrap().into(),
        )
        .await
        .unwrap();
}

/// Checks that every manifest and segment of `p` is served exactly.
async fn assert_serves_everything(origin: &TestOrigin, p: &Published) {
    let master = origin
        .get(&format!("/v/{}/master.m3u8", p.video), &[])
        .await;
    assert_eq!(master.status, 200);
    assert_eq!(master.body, p.file("master.m3u8"));
    let mpd = origin
        .get(&format!("/v/{}/manifest.mpd", p.video), &[])
        .await;
    assert_eq!(mpd.status, 200);
    assert_eq!(mpd.body, p.file("manifest.mpd"));
    let playlist = origin.get(&p.path("720p.m3u8"), &[]).await;
    assert_eq!(playlist.status, 200);
    assert_eq!(playlist.body, p.file("720p.m3u8"));
    let media = p.file("720p.mp4");
    let whole = origin.get(&p.path("720p.mp4"), &[]).await;
    assert_eq!(whole.status, 200);
    assert!(whole.body == media, "whole segment file");
    for (first, last) in [(0u64, 999u64), (1000, 150_999), (151_000, 299_999)] {
        let range = format!("bytes={first}-{last}");
        let part = origin
            .get(&p.path("720p.mp4"), &[("Range", range.as_str())])
            .await;
        assert_eq!(part.status, 206, "{range}");
        assert!(
            part.body == media[first as usize..=last as usize],
            "{range}: bytes differ"
        );
    }
}

#[tokio::test]
async fn with_redis_unreachable_everything_is_served_from_storage() {
    let store = Store::S3(S3Store::open(s3_options()).await.unwrap());
    // Nothing listens on port 1.
    let cache = cache::open(
        &Cache::Redis("redis://127.0.0.1:1".to_owned().into()),
        "goflix-test:",
    )
    .unwrap();
    let origin = spawn_origin(store.clone(), cache.clone());
    let published = publish(&store).await;
    assert_serves_everything(&origin, &published).await;
    // Twice: the in-process tier keeps working while Redis is down.
    assert_serves_everything(&origin, &published).await;
    assert!(cache.degraded_total() > 0, "the Redis outage is counted");
    store.delete_prefix("").await.unwrap();
}

#[tokio::test]
async fn with_redis_up_everything_is_served_and_nothing_degrades() {
    let store = Store::S3(S3Store::open(s3_options()).await.unwrap());
    let prefix = format!("goflix-test-{}:", VideoId::new());
    let cache = cache::open(&Cache::Redis(var("GOFLIX_TEST_REDIS_URL").into()), &prefix).unwrap();
    let origin = spawn_origin(store.clone(), cache.clone());
    let published = publish(&store).await;
    assert_serves_everything(&origin, &published).await;
    assert_eq!(cache.degraded_total(), 0);
    cache.invalidate_prefix("").await;
    store.delete_prefix("").await.unwrap();
}

/// The bucket of the private s3s-fs server.
const PRIVATE_BUCKET: &str = "private";

/// An s3s-fs of this test's own (killed when dropped, or by `stop`), with
/// the test server's credentials and the bucket [`PRIVATE_BUCKET`].
fn private_s3(dir: &tempfile::TempDir) -> S3sFs {
    std::fs::create_dir(dir.path().join(PRIVATE_BUCKET)).unwrap();
    S3sFs::start(
        dir.path(),
        &var("GOFLIX_TEST_S3_ACCESS_KEY"),
        &var("GOFLIX_TEST_S3_SECRET_KEY"),
        None,
    )
}

fn assert_unavailable(response: &Response, what: &str) {
    assert_eq!(response.status, 503, "{what}");
    assert!(
        response.header("retry-after").is_some(),
        "{what}: 503 without Retry-After"
    );
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["code"], "storage_unavailable", "{what}");
}

#[tokio::test]
async fn with_s3_gone_the_origin_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut s3 = private_s3(&dir);
    let store = Store::S3(
        S3Store::open(s3_options_at(s3.endpoint(), PRIVATE_BUCKET.into()))
            .await
            .unwrap(),
    );
    let cache = cache::open(&Cache::Memory, "").unwrap();
    let origin = spawn_origin(store.clone(), cache);
    let published = publish(&store).await;
    let unread = publish(&store).await;
    assert_serves_everything(&origin, &published).await;

    s3.stop();
    // Bytes already read are served from the media cache; the rest need S3.
    let cached = origin
        .get(&published.path("720p.mp4"), &[("Range", "bytes=0-999")])
        .await;
    assert_eq!(cached.status, 206);
    assert!(cached.body == published.file("720p.mp4")[..1000]);
    let segment = origin
        .get(&unread.path("720p.mp4"), &[("Range", "bytes=0-999")])
        .await;
    assert_unavailable(&segment, "segment");
    let other = VideoId::new();
    let master = origin.get(&format!("/v/{other}/master.m3u8"), &[]).await;
    assert_unavailable(&master, "manifest not in the cache");
    // Once the playback record's short max-age has passed, it is re-read: 503 too.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let master = origin
        .get(&format!("/v/{}/master.m3u8", published.video), &[])
        .await;
    assert_unavailable(&master, "manifest after the record expired");
}

#[tokio::test]
async fn with_s3_on_a_closed_port_the_origin_answers_503() {
    let store = Store::S3(
        S3Store::open(s3_options_at(
            "http://127.0.0.1:1".into(),
            var("GOFLIX_TEST_S3_BUCKET"),
        ))
        .await
        .unwrap(),
    );
    let origin = spawn_origin(store, cache::open(&Cache::Memory, "").unwrap());
    let video = VideoId::new();
    let master = origin.get(&format!("/v/{video}/master.m3u8"), &[]).await;
    assert_unavailable(&master, "manifest");
    let version = layout::new_version();
    let segment = origin
        .get(&format!("/v/{video}/{version}/720p.mp4"), &[])
        .await;
    assert_unavailable(&segment, "segment");
}
