//! A TCP proxy between the origin and the S3 server that counts the
//! origin's GET requests as the S3 server receives them, and can hold
//! them for a while (so concurrent misses overlap one fetch) or break
//! them off (an outage in the middle of a fetch).
//!
//! The origin sends S3 nothing but bodiless `GET` and `HEAD` requests, so
//! every `GET /` in what it sends starts a request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct State {
    /// The request line of every GET.
    gets: Mutex<Vec<String>>,
    hold_ms: AtomicU64,
    failing: AtomicBool,
}

/// The proxy; it runs until the test's runtime ends.
pub struct CountingProxy {
    /// Where the origin's store connects.
    pub endpoint: String,
    state: Arc<State>,
}

impl CountingProxy {
    /// A proxy to the S3 server at `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the S3 endpoint as http://ip:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, shared.clone()));
            }
        });
        Self { endpoint, state }
    }

    /// GET requests for keys ending in `name` passed to (or broken off
    /// before) the S3 server so far.
    pub fn gets(&self, name: &str) -> usize {
        let gets = self.state.gets.lock().unwrap();
        gets.iter()
            .filter_map(|line| line.split(' ').nth(1))
            .filter(|target| {
                let path = target.split('?').next().unwrap_or_default();
                path.ends_with(&format!("/{name}"))
            })
            .count()
    }

    /// Holds every GET this long before passing it on.
    pub fn hold(&self, duration: Duration) {
        self.state
            .hold_ms
            .store(duration.as_millis() as u64, Ordering::SeqCst);
    }

    /// While `true`, every GET (after its hold) is broken off: both
    /// connections are closed and the S3 server never sees it.
    pub fn fail(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_server, mut to_server) = server.into_split();
    let (mut from_client, mut to_client) = client.split();
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let lines = request_lines(&buf[..n]);
            if !lines.is_empty() {
                state.gets.lock().unwrap().extend(lines);
                let hold = state.hold_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(hold)).await;
                if state.failing.load(Ordering::SeqCst) {
                    return;
                }
            }
            if to_server.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let responses = async {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    };
    // Either side closing ends the relay, which closes both connections.
    tokio::select! {
        () = requests => {},
        () = responses => {},
    }
}

/// The request line of every GET that starts in `bytes`.
fn request_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("GET /")
        .map(|(at, _)| text[at..].lines().next().unwrap_or_default().to_owned())
        .collect()
}
