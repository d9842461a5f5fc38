//! Fetching one import's master into the object store: a `GET` through
//! the SSRF guard's client ([`crate::egress`]: public addresses only unless
//! allowed, at most [`MAX_REDIRECTS`] redirects each checked again, no
//! proxies), then the body streamed chunk by chunk into
//! [`ObjectStore::put_stream`] under the upload limit, so memory stays at
//! a few chunks whatever the size. A `Content-Length` above the limit is
//! refused before any byte is read; a body without one is cut at the limit
//! (the store stores nothing). The deadline, the stop signal and a stalled
//! source end the body with an error rather than by dropping the store's
//! write, so the store cleans up after itself. Every failure is an
//! [`ImportFailure`] with its stable code; its detail never holds the URL
//! (it may carry a signature in its query).

use crate::egress::{self, NotPublic, RedirectRefused, Refusal};
use crate::notify::webhook::error_chain;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use goflix_shared::domain::FailureCode;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ByteStream, ObjectKey, ObjectStore, Store, StoreError};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// Most redirects followed.
const MAX_REDIRECTS: usize = 5;
/// Longest wait for a connection (DNS, TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the next bytes of the answer.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an import failed for good: its code and what happened (for admins).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ImportFailure {
    pub code: FailureCode,
    pub detail: String,
}

impl ImportFailure {
    fn new(code: FailureCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// The URL no longer passes the guard (the setting changed since).
    pub(super) fn refused(refusal: Refusal) -> Self {
        let code = match refusal {
            Refusal::Internal => FailureCode::ImportRefusedAddress,
            _ => FailureCode::ImportUnreachable,
        };
        Self::new(code, refusal.to_string())
    }

    /// The import was taken up too many times.
    pub(super) fn interrupted(detail: impl Into<String>) -> Self {
        Self::new(FailureCode::ImportInterrupted, detail)
    }

    fn too_large(limit: u64) -> Self {
        Self::new(
            FailureCode::ImportTooLarge,
            format!("the source sends more than the limit of {limit} bytes"),
        )
    }

    fn timeout() -> Self {
        Self::new(
            FailureCode::ImportTimeout,
            "the import took longer than GOFLIX_IMPORT_TIMEOUT_SECONDS",
        )
    }

    /// The failure a request error means.
    fn of_request(error: reqwest::Error) -> Self {
        let error = error.without_url();
        let detail = error_chain(&error);
        let refused_hop = matches!(
            egress::find_cause::<RedirectRefused>(&error),
            Some(RedirectRefused::Target(Refusal::Internal))
        );
        let code = if refused_hop || egress::find_cause::<NotPublic>(&error).is_some() {
            FailureCode::ImportRefusedAddress
        } else if error.is_timeout() && !error.is_connect() {
            FailureCode::ImportTimeout
        } else {
            FailureCode::ImportUnreachable
        };
        Self::new(code, detail)
    }
}

/// How a fetch ended without storing the master.
#[derive(Debug)]
pub(super) enum Cut {
    /// For good, with this failure.
    Failed(ImportFailure),
    /// The stop signal came (shutdown, or the import was lost).
    Stopped,
    /// The store failed: worth another attempt later.
    Storage(StoreError),
}

/// Bytes received so far, and how many the source announced.
#[derive(Debug, Default)]
pub(super) struct Progress {
    received: AtomicU64,
    /// `Content-Length`; 0 when unknown.
    expected: AtomicU64,
}

impl Progress {
    /// Received over expected, 0.0 to 1.0 (0.0 while the length is unknown).
    pub(super) fn fraction(&self) -> f64 {
        let expected = self.expected.load(Ordering::Relaxed);
        if expected == 0 {
            return 0.0;
        }
        let received = self.received.load(Ordering::Relaxed);
        (received as f64 / expected as f64).min(1.0)
    }
}

/// The HTTP client of one process's imports.
pub(super) struct Fetcher {
    client: reqwest::Client,
}

/// Where and how one fetch runs.
pub(super) struct Fetch<'a> {
    pub store: &'a Store,
    pub key: &'a ObjectKey,
    /// Largest master accepted, in bytes.
    pub limit: u64,
    /// When the import times out.
    pub deadline: Instant,
    pub progress: Arc<Progress>,
    /// Cancelled to stop the fetch (nothing is stored then).
    pub stop: Shutdown,
}

impl Fetcher {
    /// A client that reaches internal addresses only when `allow_private`.
    pub(super) fn new(allow_private: bool) -> Result<Self, String> {
        let client = egress::client_builder(
            allow_private,
            concat!("goflix-import/", env!("CARGO_PKG_VERSION")),
        )
        .redirect(egress::checked_redirects(MAX_REDIRECTS, allow_private))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
        Ok(Self { client })
    }

    /// Fetches `url` into `fetch.key`; returns the stored size.
    pub(super) async fn fetch(&self, url: Url, fetch: Fetch<'_>) -> Result<u64, Cut> {
        let request = self.client.get(url).send();
        let response = tokio::select! {
            _ = fetch.stop.cancelled() => return Err(Cut::Stopped),
            _ = tokio::time::sleep_until(fetch.deadline) => {
                return Err(Cut::Failed(ImportFailure::timeout()))
            }
            response = request => {
                response.map_err(|e| Cut::Failed(ImportFailure::of_request(e)))?
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Err(Cut::Failed(ImportFailure::new(
                FailureCode::ImportUnreachable,
                format!("the source answered {status}"),
            )));
        }
        if let Some(length) = response.content_length() {
            if length > fetch.limit {
                return Err(Cut::Failed(ImportFailure::too_large(fetch.limit)));
            }
            fetch.progress.expected.store(length, Ordering::Relaxed);
        }
        let why = Arc::new(Mutex::new(None));
        let body = Body {
            chunks: response.bytes_stream().boxed(),
            progress: fetch.progress.clone(),
            limit: fetch.limit,
            deadline: fetch.deadline,
            stop: fetch.stop.clone(),
            why: why.clone(),
            ended: false,
        };
        let stored = fetch
            .store
            .put_stream(fetch.key, body.into_stream(), Some(fetch.limit))
            .await;
        let cut = why.lock().map(|mut why| why.take()).unwrap_or_default();
        match (stored, cut) {
            (Ok(size), None) => Ok(size),
            // The body ended with an error of ours: nothing was stored.
            (_, Some(cut)) => Err(cut),
            (Err(StoreError::TooLarge { limit }), None) => {
                Err(Cut::Failed(ImportFailure::too_large(limit)))
            }
            (Err(e), None) => Err(Cut::Storage(e)),
        }
    }
}

/// The answer's body as the store reads it: counted, cut at the limit, the
/// deadline or the stop signal, with the reason left in `why`.
struct Body {
    chunks: BoxStream<'static, reqwest::Result<Bytes>>,
    progress: Arc<Progress>,
    limit: u64,
    deadline: Instant,
    stop: Shutdown,
    why: Arc<Mutex<Option<Cut>>>,
    ended: bool,
}

impl Body {
    fn into_stream(self) -> ByteStream {
        Box::pin(futures_util::stream::unfold(self, |mut body| async move {
            if body.ended {
                return None;
            }
            let cut = tokio::select! {
                biased;
                _ = body.stop.cancelled() => Cut::Stopped,
                _ = tokio::time::sleep_until(body.deadline) => Cut::Failed(ImportFailure::timeout()),
                chunk = body.chunks.next() => match chunk {
                    None => return None,
                    Some(Ok(bytes)) => {
                        let received = body.progress.received.fetch_add(bytes.len() as u64, Ordering::Relaxed)
                            + bytes.len() as u64;
                        if received <= body.limit {
                            return Some((Ok(bytes), body));
                        }
                        Cut::Failed(ImportFailure::too_large(body.limit))
                    }
                    Some(Err(e)) => Cut::Failed(body_failure(e, body.progress.received.load(Ordering::Relaxed))),
                },
            };
            body.ended = true;
            let error = io::Error::other(format!("import cut: {cut:?}"));
            if let Ok(mut why) = body.why.lock() {
                *why = Some(cut);
            }
            Some((Err(error), body))
        }))
    }
}

/// The failure of a body that broke after `received` bytes.
fn body_failure(error: reqwest::Error, received: u64) -> ImportFailure {
    let error = error.without_url();
    let detail = format!("after {received} bytes: {}", error_chain(&error));
    if error.is_timeout() {
        ImportFailure::new(FailureCode::ImportTimeout, detail)
    } else {
        ImportFailure::new(FailureCode::ImportInterrupted, detail)
    }
}
