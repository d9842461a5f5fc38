//! `spawn_app()`: the origin on a real listener (port 0, its own actix
//! system on a thread) over a temporary folder store, a cache that counts
//! lookups, and a token issuer; plus a raw HTTP/1.1 client that shows the
//! bytes exactly as sent (Content-Length vs chunked, HEAD bodies, paths
//! no URL library normalized).

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use goflix_origin::Origin;
use goflix_shared::cache::{ManifestCache, MemoryCache};
use goflix_shared::domain::{PlaybackRecord, VideoId, Visibility};
use goflix_shared::layout;
use goflix_shared::revocation_feed::{RevocationFeed, SessionRevocation};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{FsStore, ObjectStore, Store, StoreError};
use goflix_shared::token::{PlaybackSession, TokenIssuer};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A manifest cache that counts lookups, to prove a request never reached storage.
pub struct CountingCache {
    inner: MemoryCache,
    lookups: AtomicUsize,
}

#[async_trait::async_trait]
impl ManifestCache for CountingCache {
    async fn get_or_fill(
        &self,
        key: &str,
        max_age: Option<Duration>,
        fill: BoxFuture<'_, Result<Bytes, StoreError>>,
    ) -> Result<Bytes, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.get_or_fill(key, max_age, fill).await
    }

    async fn invalidate_prefix(&self, prefix: &str) {
        self.inner.invalidate_prefix(prefix).await
    }
}

/// A running origin.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub root: PathBuf,
    pub issuer: TokenIssuer,
    pub cache: Arc<CountingCache>,
    handle: ServerHandle,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command at once; the server thread then exits.
        drop(self.handle.stop(false));
    }
}

/// Whom test playback tokens are issued to: a fresh user in a fresh session.
pub fn viewer() -> PlaybackSession {
    PlaybackSession {
        user: VideoId::new().0,
        session: Some(VideoId::new().0),
    }
}

/// Starts an origin that verifies tokens of `issuer`.
pub async fn spawn_app() -> TestApp {
    spawn(true, None).await
}

/// Starts an origin without a token verifier.
pub async fn spawn_app_without_verifier() -> TestApp {
    spawn(false, None).await
}

/// Starts an origin that requires `secret` in `X-Goflix-Cdn-Secret`.
pub async fn spawn_app_with_cdn_secret(secret: &str) -> TestApp {
    spawn(true, Some(secret)).await
}

/// Starts an origin over a store the control plane never wrote a
/// revocation feed to.
pub async fn spawn_app_without_revocation_feed() -> TestApp {
    spawn_with(true, None, false).await
}

async fn spawn(with_verifier: bool, cdn_secret: Option<&str>) -> TestApp {
    spawn_with(with_verifier, cdn_secret, true).await
}

async fn spawn_with(with_verifier: bool, cdn_secret: Option<&str>, with_feed: bool) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::Fs(FsStore::open(&root).await.unwrap());
    let issuer =
        TokenIssuer::load_or_generate(&dir.path().join("token.key"), &dir.path().join("token.pub"))
            .unwrap();
    let cache = Arc::new(CountingCache {
        inner: MemoryCache::new(16 << 20),
        lookups: AtomicUsize::new(0),
    });
    let mut origin = Origin::new(
        store.clone(),
        cache.clone(),
        with_verifier.then(|| issuer.verifier()),
    );
    if let Some(secret) = cdn_secret {
        origin = origin.with_cdn_secret(&secret.to_owned().into());
    }
    if with_feed {
        write_feed(&store, &RevocationFeed::default()).await;
        origin.read_revocations().await.unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            // Never cancelled: the task ends with the server's system.
            actix_web::rt::spawn({
                let origin = origin.clone();
                async move { origin.follow_revocations(Shutdown::new()).await }
            });
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
    let handle = rx.recv().unwrap();
    TestApp {
        addr,
        store,
        root,
        issuer,
        cache,
        handle,
        _dir: dir,
    }
}

/// Writes `feed` as the control plane would.
async fn write_feed(store: &Store, feed: &RevocationFeed) {
    let bytes = serde_json::to_vec(feed).unwrap();
    store
        .put_bytes(&layout::playback_revocations(), Bytes::from(bytes))
        .await
        .unwrap();
}

impl TestApp {
    /// Publishes a revocation feed naming `sessions`, as a logout would.
    pub async fn revoke_sessions(&self, sessions: &[uuid::Uuid]) {
        let until = chrono::Utc::now() + chrono::Duration::hours(4);
        let feed = RevocationFeed {
            sessions: sessions
                .iter()
                .map(|s| (*s, SessionRevocation { until }))
                .collect(),
            ..RevocationFeed::default()
        };
        write_feed(&self.store, &feed).await;
    }
}

/// What [`TestApp::publish`] stored.
pub struct Published {
    pub video: VideoId,
    pub version: String,
    /// `720p.mp4`: deterministic pseudo-random bytes over several store chunks.
    pub video_bytes: Vec<u8>,
    pub audio_bytes: Vec<u8>,
    pub master: String,
    pub media_playlist: String,
    pub mpd: String,
}

impl Published {
    pub fn path(&self, file: &str) -> String {
        format!("/v/{}/{}/{file}", self.video, self.version)
    }
    pub fn master_path(&self) -> String {
        format!("/v/{}/master.m3u8", self.video)
    }
    pub fn mpd_path(&self) -> String {
        format!("/v/{}/manifest.mpd", self.video)
    }
}

pub use goflix_testkit::data::pseudo_random;

impl TestApp {
    pub fn lookups(&self) -> usize {
        self.cache.lookups.load(Ordering::SeqCst)
    }

    /// Publishes a video the way the transcoder lays it out.
    pub async fn publish(&self, visibility: Visibility) -> Published {
        let video = VideoId::new();
        let version = layout::new_version();
        let video_bytes = pseudo_random(300_000, 7);
        let audio_bytes = pseudo_random(50_000, 11);
        let master = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"audio\",DEFAULT=YES,URI=\"{version}/audio.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"aud\"\n\
             {version}/720p.m3u8\n"
        );
        let media_playlist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"720p.mp4\",BYTERANGE=\"1000@0\"\n\
             #EXTINF:4.0,\n#EXT-X-BYTERANGE:150000@1000\n720p.mp4\n\
             #EXTINF:4.0,\n#EXT-X-BYTERANGE:149000@151000\n720p.mp4\n#EXT-X-ENDLIST\n"
            .to_string();
        let mpd = format!(
            "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">\
             <Period><AdaptationSet contentType=\"video\"><Representation id=\"720p\" bandwidth=\"2000000\">\
             <BaseURL>{version}/720p.mp4</BaseURL><SegmentBase indexRange=\"800-999\"/></Representation>\
             </AdaptationSet><AdaptationSet contentType=\"audio\"><Representation id=\"audio\" bandwidth=\"128000\">\
             <BaseURL>{version}/audio.mp4</BaseURL></Representation></AdaptationSet></Period></MPD>\n"
        );
        let put = |name: &str, bytes: Vec<u8>| {
            let key = layout::media_file(video, &version, name).unwrap();
            let store = self.store.clone();
            async move { store.put_bytes(&key, bytes.into()).await.unwrap() }
        };
        put("720p.mp4", video_bytes.clone()).await;
        put("audio.mp4", audio_bytes.clone()).await;
        put("master.m3u8", master.clone().into_bytes()).await;
        put("720p.m3u8", media_playlist.clone().into_bytes()).await;
        put(
            "audio.m3u8",
            media_playlist.replace("720p", "audio").into_bytes(),
        )
        .await;
        put("manifest.mpd", mpd.clone().into_bytes()).await;
        put("poster.jpg", b"\xff\xd8\xff\xe0jpeg".to_vec()).await;
        put("en.vtt", b"WEBVTT\n".to_vec()).await;
        self.set_record(video, &version, visibility).await;
        Published {
            video,
            version,
            video_bytes,
            audio_bytes,
            master,
            media_playlist,
            mpd,
        }
    }

    /// Writes the playback record of `video`.
    pub async fn set_record(&self, video: VideoId, version: &str, visibility: Visibility) {
        self.write_record(video, version, visibility, false).await;
    }

    /// Writes a playback record saying `version` is still encoding.
    pub async fn set_live_record(&self, video: VideoId, version: &str, visibility: Visibility) {
        self.write_record(video, version, visibility, true).await;
    }

    async fn write_record(
        &self,
        video: VideoId,
        version: &str,
        visibility: Visibility,
        live: bool,
    ) {
        let record = serde_json::json!({
            "version": version,
            "visibility": visibility.as_str(),
            "updated_at": "2025-01-01T00:00:00Z",
            "live": live,
        });
        serde_json::from_value::<PlaybackRecord>(record.clone()).expect("a valid record");
        self.store
            .put_bytes(
                &layout::playback_record(video),
                serde_json::to_vec(&record).unwrap().into(),
            )
            .await
            .unwrap();
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers).await
    }

    pub async fn head(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("HEAD", path, headers).await
    }

    /// Sends one request with the path exactly as given.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.raw(head.as_bytes()).await
    }

    /// Sends raw bytes and reads the response until the server closes.
    pub async fn raw(&self, request: &[u8]) -> Response {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut bytes = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut bytes))
            .await
            .expect("response within 30 s")
            .unwrap();
        Response::parse(&bytes)
    }
}

/// A response as it came off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(bytes: &[u8]) -> Self {
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = std::str::from_utf8(&bytes[..split]).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_ascii_lowercase(), value.trim().to_string())
            })
            .collect();
        Self {
            status,
            headers,
            body: bytes[split + 4..].to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Headers that describe the representation, for comparing GET with HEAD.
    pub fn entity_headers(&self) -> Vec<(String, String)> {
        let mut headers: Vec<_> = self
            .headers
            .iter()
            .filter(|(n, _)| n != "date")
            .cloned()
            .collect();
        headers.sort();
        headers
    }

    /// The JSON error code.
    pub fn code(&self) -> String {
        let json: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON body, got {:?}", String::from_utf8_lossy(&self.body)));
        assert!(json["message"].is_string());
        json["code"].as_str().unwrap().to_string()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// Asserts a sized, unchunked body whose Content-Length matches, and returns it.
    pub fn sized_body(&self) -> &[u8] {
        assert_eq!(self.header("transfer-encoding"), None, "chunked response");
        let len: usize = self
            .header("content-length")
            .expect("Content-Length")
            .parse()
            .unwrap();
        assert_eq!(
            self.body.len(),
            len,
            "body length differs from Content-Length"
        );
        &self.body
    }

    /// Parses a `multipart/byteranges` body into (first, last, total, bytes) parts.
    pub fn byteranges(&self) -> Vec<(u64, u64, u64, Vec<u8>)> {
        let content_type = self.header("content-type").unwrap();
        let boundary = content_type
            .strip_prefix("multipart/byteranges; boundary=")
            .expect("multipart/byteranges");
        let delimiter = format!("\r\n--{boundary}");
        let body = self.sized_body();
        let mut parts = Vec::new();
        let mut rest = body;
        loop {
            let at = find(rest, delimiter.as_bytes()).expect("delimiter");
            rest = &rest[at + delimiter.len()..];
            if rest.starts_with(b"--") {
                assert_eq!(&rest[2..], b"\r\n");
                return parts;
            }
            let head_end = find(rest, b"\r\n\r\n").unwrap();
            let head = std::str::from_utf8(&rest[2..head_end]).unwrap();
            let range = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("Content-Range: bytes "))
                .unwrap();
            let (span, total) = range.split_once('/').unwrap();
            let (first, last) = span.split_once('-').unwrap();
            let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
            rest = &rest[head_end + 4..];
            let len = (last - first + 1) as usize;
            parts.push((first, last, total.parse().unwrap(), rest[..len].to_vec()));
            rest = &rest[len..];
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
