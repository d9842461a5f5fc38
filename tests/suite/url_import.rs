//! Imports from a URL (`POST /api/v1/videos` with JSON): the control plane
//! fetches the master from a real HTTP server the test runs on loopback
//! (reachable only with `GOFLIX_IMPORT_ALLOW_PRIVATE=true`), streams it to
//! the store under the upload limit and transcodes it; by default internal
//! addresses are refused, up front for IP literals and `localhost`, at
//! connect time for a host name that resolves to one. Failures end
//! `failed` with their `import_*` code and leave nothing in the store. An
//! import whose `goflix serve` is killed is finished by the next one.

use crate::common::{self, spawn_app_with, Api, TestApp};
use crate::hostile::serve_process::ServeProcess;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ALLOW_PRIVATE: (&str, &str) = ("GOFLIX_IMPORT_ALLOW_PRIVATE", "true");

/// What the source server answers to every request.
#[derive(Clone)]
enum Source {
    /// `bytes`, `chunk` bytes at a time with `pause` after each; with
    /// `Content-Length` when `length`, else ended by closing.
    File {
        bytes: Arc<Vec<u8>>,
        chunk: usize,
        pause: Duration,
        length: bool,
    },
    /// `status` with an empty body.
    Status(u16),
    /// Announces `declared` bytes, sends `sent`, then closes when `close`
    /// or goes silent.
    Short {
        declared: u64,
        sent: usize,
        close: bool,
    },
}

/// A source server on loopback; counts the requests it got.
struct SourceServer {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl SourceServer {
    async fn start(source: Source) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (source, counted) = (source.clone(), counted.clone());
                tokio::spawn(async move { answer(socket, source, &counted).await });
            }
        });
        Self { port, requests }
    }

    fn url(&self, host: &str) -> String {
        format!("http://{host}:{}/master.mp4", self.port)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn answer(mut socket: TcpStream, source: Source, requests: &AtomicUsize) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
        assert!(head.len() < 64 * 1024, "a request head of 64 KiB");
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let ok = "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nConnection: close\r\n";
    match source {
        Source::File {
            bytes,
            chunk,
            pause,
            length,
        } => {
            let head = match length {
                true => format!("{ok}Content-Length: {}\r\n\r\n", bytes.len()),
                false => format!("{ok}\r\n"),
            };
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for piece in bytes.chunks(chunk) {
                if socket.write_all(piece).await.is_err() {
                    return;
                }
                tokio::time::sleep(pause).await;
            }
        }
        Source::Status(status) => {
            let head = format!(
                "HTTP/1.1 {status} Not Here\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = socket.write_all(head.as_bytes()).await;
        }
        Source::Short {
            declared,
            sent,
            close,
        } => {
            let head = format!("{ok}Content-Length: {declared}\r\n\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&vec![0x47; sent]).await;
            if !close {
                // Silent until the importer hangs up.
                let _ = socket.read(&mut buffer).await;
            }
        }
    }
    let _ = socket.shutdown().await;
}

/// `POST /api/v1/videos` with the JSON `body`; the status and the answer.
async fn import(api: Api<'_>, body: &Value) -> (u16, Value, Option<String>) {
    let response = api
        .client
        .post(format!("{}/api/v1/videos", api.base))
        .bearer_auth(api.token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), location)
}

/// Imports `url` and returns the new video's id (asserting the 202).
async fn start_import(api: Api<'_>, url: &str) -> String {
    let (status, body, location) = import(api, &json!({"title": "imported", "url": url})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "importing", "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(location.as_deref(), Some(&*format!("/api/v1/videos/{id}")));
    id
}

/// The failure code of the settled video `id`.
async fn failure_of(app: &TestApp, id: &str) -> String {
    let video = app.wait_settled(id, Duration::from_secs(30)).await;
    assert_eq!(video["state"], "failed", "{video}");
    video["error"]["code"].as_str().unwrap().to_owned()
}

fn sha256_of(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// Every file below `dir` (none if it does not exist).
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Asserts that the folder store under `objects` holds no master, not even
/// a partial one in its temporary folder.
fn assert_nothing_stored(objects: &Path) {
    for folder in ["masters", ".tmp"] {
        let kept = files_below(&objects.join(folder));
        assert!(kept.is_empty(), "kept {kept:?}");
    }
}

/// A generated clip's bytes.
fn clip_bytes(dir: &Path) -> Arc<Vec<u8>> {
    let clip = common::clip(dir, "source.mp4", "320x240", 2, true);
    Arc::new(std::fs::read(clip).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_streams_the_master_with_progress_and_transcodes_it() {
    let app = spawn_app_with(&[ALLOW_PRIVATE]).await;
    let bytes = clip_bytes(app.data_dir.path());
    // About four seconds of trickle: the heartbeat writes progress each second.
    let source = SourceServer::start(Source::File {
        bytes: bytes.clone(),
        chunk: bytes.len() / 20 + 1,
        pause: Duration::from_millis(200),
        length: true,
    })
    .await;
    let id = start_import(app.api(), &source.url("127.0.0.1")).await;
    let partway = app
        .wait_for(&id, ("importing part-way", Duration::from_secs(20)), |v| {
            let progress = v["progress"].as_f64().unwrap_or_default();
            v["state"] == "importing" && progress > 0.0 && progress < 1.0
        })
        .await;
    assert_eq!(partway["playable"], false, "{partway}");

    let video = app.wait_settled(&id, Duration::from_secs(120)).await;
    assert_eq!(video["state"], "ready", "{video}");
    let master = app.data_dir.path().join("objects/masters").join(&id);
    assert_eq!(
        sha256_of(&master),
        format!("{:x}", Sha256::digest(bytes.as_slice()))
    );
    assert_eq!(source.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_and_non_http_urls_are_refused_up_front() {
    let app = spawn_app_with(&[]).await;
    for url in [
        "http://127.0.0.1:8080/master.mp4",
        "http://localhost/master.mp4",
        "http://LocalHost./master.mp4",
        "http://[::1]/master.mp4",
        "http://10.0.0.8/master.mp4",
        "http://192.168.1.20/master.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/master.mp4",
        "http://2130706433/master.mp4",
        "file:///etc/passwd",
        "ftp://media.example.com/master.mp4",
        "gopher://media.example.com/",
        "http://user:secret@media.example.com/master.mp4",
        "not a url",
    ] {
        let (status, body, _) = import(app.api(), &json!({"title": "x", "url": url})).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["code"], "invalid_import_url", "{url}: {body}");
    }
    for (request, code) in [
        (json!({"title": "x"}), "invalid_json"),
        (
            json!({"title": "x", "url": "https://a.example/", "owner": "me"}),
            "invalid_json",
        ),
        (
            json!({"title": " ", "url": "https://a.example/"}),
            "missing_title",
        ),
        (
            json!({"title": "x", "url": "https://a.example/", "visibility": "secret"}),
            "invalid_visibility",
        ),
    ] {
        let (status, body, _) = import(app.api(), &request).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{request}: {body}"
        );
    }
    let list: Value = app
        .client
        .get(format!("{}/api/v1/videos", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_name_of_an_internal_address_is_refused_at_connect() {
    // A name that is not `localhost` but resolves to loopback or a private
    // address: this machine's own (from /etc/hosts, like most machines').
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let addresses: Vec<_> = tokio::net::lookup_host((host.as_str(), 0))
        .await
        .unwrap_or_else(|e| panic!("this test needs the host name {host:?} to resolve: {e}"))
        .map(|a| a.ip())
        .collect();
    let internal = |ip: &std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    assert!(
        !addresses.is_empty() && addresses.iter().all(internal),
        "this test needs the host name {host:?} to resolve to internal addresses only, not {addresses:?}"
    );

    let app = spawn_app_with(&[]).await;
    let bytes = clip_bytes(app.data_dir.path());
    let source = SourceServer::start(Source::File {
        bytes,
        chunk: 64 * 1024,
        pause: Duration::ZERO,
        length: true,
    })
    .await;
    let id = start_import(app.api(), &source.url(&host)).await;
    assert_eq!(failure_of(&app, &id).await, "import_refused_address");
    assert_eq!(source.requests(), 0, "the guard let a connection through");
    assert_nothing_stored(&app.data_dir.path().join("objects"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_over_the_limit_fail_with_or_without_a_length_and_store_nothing() {
    let app = spawn_app_with(&[ALLOW_PRIVATE, ("GOFLIX_MAX_UPLOAD_BYTES", "100000")]).await;
    let bytes = Arc::new(vec![0x5a; 300_000]);
    for length in [true, false] {
        let source = SourceServer::start(Source::File {
            bytes: bytes.clone(),
            chunk: 16 * 1024,
            pause: Duration::from_millis(5),
            length,
        })
        .await;
        let id = start_import(app.api(), &source.url("127.0.0.1")).await;
        assert_eq!(
            failure_of(&app, &id).await,
            "import_too_large",
            "Content-Length sent: {length}"
        );
    }
    assert_nothing_stored(&app.data_dir.path().join("objects"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_refusing_stalling_and_broken_sources_fail_with_their_codes() {
    let app = spawn_app_with(&[ALLOW_PRIVATE, ("GOFLIX_IMPORT_TIMEOUT_SECONDS", "2")]).await;
    let nobody = format!(
        "http://127.0.0.1:{}/master.mp4",
        goflix_testkit::free_port()
    );
    let missing = SourceServer::start(Source::Status(404)).await;
    let stalling = SourceServer::start(Source::Short {
        declared: 1_000_000,
        sent: 1000,
        close: false,
    })
    .await;
    let broken = SourceServer::start(Source::Short {
        declared: 1_000_000,
        sent: 1000,
        close: true,
    })
    .await;
    for (url, code) in [
        (nobody, "import_unreachable"),
        (missing.url("127.0.0.1"), "import_unreachable"),
        (stalling.url("127.0.0.1"), "import_timeout"),
        (broken.url("127.0.0.1"), "import_interrupted"),
    ] {
        let id = start_import(app.api(), &url).await;
        assert_eq!(failure_of(&app, &id).await, code, "{url}");
        // The admin's detail says what happened, never the URL.
        let video = app.video(&id).await;
        let detail = video["error"]["detail"].as_str().unwrap_or_default();
        assert!(
            !detail.is_empty() && !detail.contains("/master.mp4"),
            "{video}"
        );
    }
    assert_nothing_stored(&app.data_dir.path().join("objects"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_importing_video_can_be_cancelled_or_deleted_and_keeps_nothing() {
    let app = spawn_app_with(&[ALLOW_PRIVATE]).await;
    // 200 KB over ten seconds.
    let slow = SourceServer::start(Source::File {
        bytes: Arc::new(vec![0x47; 200_000]),
        chunk: 4000,
        pause: Duration::from_millis(200),
        length: true,
    })
    .await;
    let cancelled = start_import(app.api(), &slow.url("127.0.0.1")).await;
    let deleted = start_import(app.api(), &slow.url("127.0.0.1")).await;
    for id in [&cancelled, &deleted] {
        app.wait_for(id, ("importing part-way", Duration::from_secs(20)), |v| {
            v["progress"].as_f64().unwrap_or_default() > 0.0
        })
        .await;
    }
    let response = app
        .client
        .post(format!("{}/api/v1/videos/{cancelled}/cancel", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let video: Value = response.json().await.unwrap();
    assert_eq!(
        (video["state"].as_str(), video["error"]["code"].as_str()),
        (Some("failed"), Some("cancelled")),
        "{video}"
    );
    let response = app
        .client
        .delete(format!("{}/api/v1/videos/{deleted}", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    // The fetches stop at their next lease renewal (each second).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let video = app.video(&cancelled).await;
    assert_eq!(video["state"], "failed", "{video}");
    assert_nothing_stored(&app.data_dir.path().join("objects"));
    // Nothing finished the ten-second body afterwards either.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_nothing_stored(&app.data_dir.path().join("objects"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_server_was_killed_is_finished_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = clip_bytes(dir.path());
    // About six seconds per fetch.
    let source = SourceServer::start(Source::File {
        bytes: bytes.clone(),
        chunk: bytes.len() / 30 + 1,
        pause: Duration::from_millis(200),
        length: true,
    })
    .await;
    let first = ServeProcess::start(&[ALLOW_PRIVATE]).await;
    let token = first.admin_token().await;
    let client = reqwest::Client::new();
    let api = Api {
        client: &client,
        base: &first.base,
        token: &token,
    };
    let id = start_import(api, &source.url("127.0.0.1")).await;
    api.wait_for(
        &id,
        ("importing part-way", Duration::from_secs(20)),
        |v| v["progress"].as_f64().unwrap_or_default() > 0.0,
        || first.log_text(),
    )
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &first.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // The same data folder (database, keys, objects), a new process.
    let data = first.data_dir.path().join("data");
    let second =
        ServeProcess::start(&[ALLOW_PRIVATE, ("GOFLIX_DATA_DIR", data.to_str().unwrap())]).await;
    let token = second.admin_token().await;
    let api = Api {
        client: &client,
        base: &second.base,
        token: &token,
    };
    // The dead process's lease runs out (30 s), then the import starts over.
    let video = api
        .wait_settled(&id, Duration::from_secs(150), || second.log_text())
        .await;
    assert_eq!(video["state"], "ready", "{video}\n{}", second.log_text());
    assert_eq!(source.requests(), 2, "one fetch per process");
    let master = data.join("objects/masters").join(&id);
    assert_eq!(
        sha256_of(&master),
        format!("{:x}", Sha256::digest(bytes.as_slice()))
    );
}
