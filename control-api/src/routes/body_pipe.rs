//! Request bodies on their way to the object store: a request body is tied
//! to its worker thread while the store wants a `Send` stream, so a small
//! bounded channel ([`pipe`]) bridges the two with backpressure; and the
//! body's declared length ([`declared_length`]), for refusing it early.

use actix_web::http::header;
use actix_web::HttpRequest;
use bytes::Bytes;
use goflix_shared::store::ByteStream;
use std::io;
use tokio::sync::mpsc;

/// Chunks in flight between the request body and the store.
const PIPE_DEPTH: usize = 4;

/// A sender for the handler to feed and the stream the store reads; a
/// failed send means the store stopped reading.
pub(super) fn pipe() -> (mpsc::Sender<io::Result<Bytes>>, ByteStream) {
    let (sender, receiver) = mpsc::channel(PIPE_DEPTH);
    let body: ByteStream = Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
    ));
    (sender, body)
}

/// `Content-Length`, when the request declares one.
pub(super) fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}
