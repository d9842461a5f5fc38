//! Response bodies read from a local file (the folder backend): positional
//! reads (`pread`) of bounded chunks, made on the HTTP worker's own thread
//! when the server asks for the next chunk.
//!
//! Reading page-cached bytes takes microseconds, less than handing every
//! chunk to a blocking-pool thread and back as `tokio::fs` does (nginx
//! without `aio threads` makes the same choice). The chunk buffer is taken
//! back once the server has copied the previous chunk out, so a response
//! allocates (and zero-fills) one buffer however long it is.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Bytes read per chunk: twice actix's write buffer, so each chunk is one flush.
pub const CHUNK: usize = 64 * 1024;

/// A byte range of a file as a stream of chunks of at most [`CHUNK`] bytes.
pub struct FileChunks {
    file: Arc<File>,
    remaining: Range<u64>,
    /// The last chunk handed out; its buffer is reused when nobody holds it any more.
    last: Option<Bytes>,
}

impl FileChunks {
    /// The bytes of `file` in `range`. A file shorter than `range.end` ends
    /// the stream with an error, never with fewer bytes than announced.
    pub fn new(file: Arc<File>, range: Range<u64>) -> Self {
        Self {
            file,
            remaining: range,
            last: None,
        }
    }

    /// A buffer of `len` bytes: the last chunk's when it came back.
    fn buffer(&mut self, len: usize) -> BytesMut {
        let mut buffer = match self.last.take().map(Bytes::try_into_mut) {
            Some(Ok(buffer)) => buffer,
            _ => BytesMut::new(),
        };
        // Zero-fills only bytes this buffer never held.
        buffer.resize(len, 0);
        buffer
    }
}

impl Stream for FileChunks {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let left = this.remaining.end.saturating_sub(this.remaining.start);
        if left == 0 {
            return Poll::Ready(None);
        }
        let len = left.min(CHUNK as u64) as usize;
        let mut buffer = this.buffer(len);
        if let Err(e) = this.file.read_exact_at(&mut buffer, this.remaining.start) {
            this.remaining.start = this.remaining.end;
            return Poll::Ready(Some(Err(e)));
        }
        this.remaining.start += len as u64;
        let chunk = buffer.freeze();
        this.last = Some(chunk.clone());
        Poll::Ready(Some(Ok(chunk)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.remaining.end.saturating_sub(self.remaining.start);
        let chunks = usize::try_from(left.div_ceil(CHUNK as u64)).unwrap_or(usize::MAX);
        (chunks, Some(chunks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> Arc<File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        Arc::new(file)
    }

    async fn collect(stream: FileChunks) -> (Vec<usize>, Vec<u8>, Option<io::ErrorKind>) {
        let mut sizes = Vec::new();
        let mut body = Vec::new();
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    sizes.push(chunk.len());
                    body.extend_from_slice(&chunk);
                }
                Err(e) => return (sizes, body, Some(e.kind())),
            }
        }
        (sizes, body, None)
    }

    #[tokio::test]
    async fn ranges_come_back_exactly_in_bounded_chunks() {
        let bytes: Vec<u8> = (0..CHUNK * 3 + 100).map(|i| (i % 251) as u8).collect();
        let file = file_of(&bytes);
        for range in [0..bytes.len(), 5..CHUNK + 7, 10..10, 17..CHUNK * 3 + 99] {
            let wanted = range.start as u64..range.end as u64;
            let (sizes, body, error) = collect(FileChunks::new(file.clone(), wanted)).await;
            assert_eq!(error, None);
            assert_eq!(body, &bytes[range.clone()], "{range:?}");
            assert!(sizes.iter().all(|&s| s > 0 && s <= CHUNK), "{sizes:?}");
        }
    }

    #[tokio::test]
    async fn a_file_shorter_than_announced_ends_with_an_error() {
        let file = file_of(&[7; 1000]);
        let (_, body, error) = collect(FileChunks::new(file, 0..2000)).await;
        assert_eq!(error, Some(io::ErrorKind::UnexpectedEof));
        assert!(body.len() < 2000);
    }

    #[test]
    fn a_returned_buffer_is_reused() {
        let file = file_of(&[1; CHUNK * 2]);
        let mut stream = FileChunks::new(file, 0..(CHUNK * 2) as u64);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let first = match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            other => panic!("{other:?}"),
        };
        let address = first.as_ptr();
        drop(first);
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(chunk))) => assert_eq!(chunk.as_ptr(), address),
            other => panic!("{other:?}"),
        }
    }
}
