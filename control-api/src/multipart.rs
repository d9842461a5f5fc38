//! Bounded `multipart/form-data` reading (RFC 7578 over the RFC 2046
//! framing) for uploads. actix-multipart buffers a part's header section
//! without limit while it looks for the blank line (actix-web#2810), so
//! uploads use this reader instead: it never holds more than a few KiB
//! besides the chunk it is handing out. The preamble and every part's
//! header section have a hard size limit, the number of parts is capped,
//! and a part's body streams out as it arrives, keeping back only the bytes
//! that could start the next delimiter. [`parse_header_section`] is a pure
//! function over bytes, so it can be fuzzed on its own.

use actix_web::http::header::{ContentDisposition, DispositionType, HeaderValue};
use actix_web::mime;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use memchr::memmem::Finder;
use std::fmt::Display;

/// Longest boundary RFC 2046 §5.1.1 allows.
const MAX_BOUNDARY_LEN: usize = 70;
/// Most header lines in one part's header section.
const MAX_PART_HEADERS: usize = 8;
/// Longest run of transport padding (spaces, tabs) after a boundary.
const MAX_PADDING: usize = 64;
/// The line break that ends every header line and the header section.
const CRLF: &[u8] = b"\r\n";

/// What one form may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most parts in the form.
    pub max_parts: usize,
    /// Longest header section of one part, its closing blank line
    /// included; also the longest preamble before the first boundary.
    pub max_header_section: usize,
}

/// A malformed or oversized multipart body.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    /// The request's `Content-Type` is not `multipart/form-data`.
    #[error("expected a multipart/form-data body (or JSON, to import from a URL)")]
    NotFormData,
    /// The `Content-Type` has no usable `boundary` parameter.
    #[error("the multipart boundary is missing, empty or longer than {MAX_BOUNDARY_LEN} bytes")]
    InvalidBoundary,
    /// More than [`Limits::max_header_section`] bytes precede the first boundary.
    #[error("more than {limit} bytes precede the first boundary")]
    PreambleTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A boundary is followed by something other than padding and a line break.
    #[error("a boundary line is malformed")]
    MalformedBoundaryLine,
    /// A part's header section is longer than [`Limits::max_header_section`].
    #[error("a part's header section is longer than {limit} bytes")]
    HeaderSectionTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The form has more than [`Limits::max_parts`] parts.
    #[error("the form has more than {limit} parts")]
    TooManyParts {
        /// The limit.
        limit: usize,
    },
    /// A part's header section is not valid.
    #[error(transparent)]
    Headers(#[from] HeaderSectionError),
    /// The body ended before the closing boundary.
    #[error("the body ended before the closing boundary")]
    Incomplete,
    /// Reading the request body failed.
    #[error("reading the body failed: {0}")]
    Payload(String),
}

/// A part's header section that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HeaderSectionError {
    /// Not a sequence of header lines ending in a blank line, or more than
    /// eight headers.
    #[error("malformed part headers: {0}")]
    Syntax(#[from] httparse::Error),
    /// The section ends before its blank line.
    #[error("the part headers do not end with a blank line")]
    Unterminated,
    /// There is no `Content-Disposition: form-data` header with a `name`.
    #[error("a part has no Content-Disposition: form-data header with a name")]
    MissingName,
}

/// What a part's header section says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHeaders {
    /// The form field's name (`Content-Disposition: form-data; name=…`).
    pub name: String,
}

/// Parses one part's header section: the header lines after a boundary
/// line, up to and including the blank line that ends them (just `\r\n`
/// for a part without headers).
pub fn parse_header_section(section: &[u8]) -> Result<PartHeaders, HeaderSectionError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
    let headers = match httparse::parse_headers(section, &mut headers)? {
        httparse::Status::Complete((end, headers)) if end == section.len() => headers,
        httparse::Status::Complete(_) | httparse::Status::Partial => {
            return Err(HeaderSectionError::Unterminated)
        }
    };
    let name = headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("content-disposition"))
        .find_map(|header| {
            let value = HeaderValue::from_bytes(header.value).ok()?;
            let disposition = ContentDisposition::from_raw(&value).ok()?;
            match disposition.disposition {
                DispositionType::FormData => disposition.get_name().map(str::to_owned),
                _ => None,
            }
        })
        .ok_or(HeaderSectionError::MissingName)?;
    Ok(PartHeaders { name })
}

/// The `boundary` parameter of a `multipart/form-data` `content_type`.
pub fn form_boundary(content_type: &str) -> Result<String, MultipartError> {
    let mime: mime::Mime = content_type
        .parse()
        .map_err(|_| MultipartError::NotFormData)?;
    if mime.type_() != mime::MULTIPART || mime.subtype() != mime::FORM_DATA {
        return Err(MultipartError::NotFormData);
    }
    let boundary = mime
        .get_param(mime::BOUNDARY)
        .ok_or(MultipartError::InvalidBoundary)?
        .as_str();
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
        return Err(MultipartError::InvalidBoundary);
    }
    Ok(boundary.to_owned())
}

/// Where the reader stands in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Before the first boundary.
    Preamble,
    /// Right after a delimiter: its boundary line comes next.
    Delimiter,
    /// Inside a part's body.
    PartBody,
    /// After the closing boundary; the epilogue is never read.
    Finished,
}

/// Reads a `multipart/form-data` body part by part within [`Limits`]:
/// [`MultipartReader::next_part`] returns each part's headers and
/// [`MultipartReader::next_chunk`] streams its body.
pub struct MultipartReader<S> {
    body: S,
    buffer: BytesMut,
    /// Finds `\r\n--{boundary}`, the delimiter before every boundary line.
    delimiter: Finder<'static>,
    position: Position,
    parts: usize,
    limits: Limits,
}

impl<S, E> MultipartReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    /// A reader of `body`, whose parts are separated by `boundary`.
    pub fn new(boundary: &str, body: S, limits: Limits) -> Self {
        let delimiter = [CRLF, b"--", boundary.as_bytes()].concat();
        // The first boundary may open the body without a line break before it.
        let buffer = BytesMut::from(CRLF);
        Self {
            body,
            buffer,
            delimiter: Finder::new(&delimiter).into_owned(),
            position: Position::Preamble,
            parts: 0,
            limits,
        }
    }

    /// The headers of the next part, skipping what is left of the current
    /// one; `None` after the closing boundary.
    pub async fn next_part(&mut self) -> Result<Option<PartHeaders>, MultipartError> {
        loop {
            match self.position {
                Position::Preamble => self.skip_preamble().await?,
                Position::PartBody => while self.next_chunk().await?.is_some() {},
                Position::Delimiter => break,
                Position::Finished => return Ok(None),
            }
        }
        if !self.read_boundary_line().await? {
            self.position = Position::Finished;
            return Ok(None);
        }
        self.parts += 1;
        if self.parts > self.limits.max_parts {
            return Err(MultipartError::TooManyParts {
                limit: self.limits.max_parts,
            });
        }
        let headers = self.read_header_section().await?;
        self.position = Position::PartBody;
        Ok(Some(headers))
    }

    /// The next piece of the current part's body; `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        if self.position != Position::PartBody {
            return Ok(None);
        }
        let delimiter_len = self.delimiter.needle().len();
        loop {
            match self.delimiter.find(&self.buffer) {
                Some(0) => {
                    self.buffer.advance(delimiter_len);
                    self.position = Position::Delimiter;
                    return Ok(None);
                }
                Some(end) => return Ok(Some(self.buffer.split_to(end).freeze())),
                // Everything but a possible start of the delimiter is body.
                None if self.buffer.len() >= delimiter_len => {
                    let end = self.buffer.len() - (delimiter_len - 1);
                    return Ok(Some(self.buffer.split_to(end).freeze()));
                }
                None => self.fill().await?,
            }
        }
    }

    async fn skip_preamble(&mut self) -> Result<(), MultipartError> {
        let limit = self.limits.max_header_section;
        let delimiter_len = self.delimiter.needle().len();
        loop {
            if let Some(start) = self.delimiter.find(&self.buffer) {
                if start > limit {
                    return Err(MultipartError::PreambleTooLarge { limit });
                }
                self.buffer.advance(start + delimiter_len);
                self.position = Position::Delimiter;
                return Ok(());
            }
            if self.buffer.len() > limit + delimiter_len {
                return Err(MultipartError::PreambleTooLarge { limit });
            }
            self.fill().await?;
        }
    }

    /// Reads the rest of a boundary line: `true` if a part follows,
    /// `false` after the closing boundary (`--`).
    async fn read_boundary_line(&mut self) -> Result<bool, MultipartError> {
        loop {
            if self.buffer.starts_with(b"--") {
                return Ok(false);
            }
            if let Some(end) = memchr::memmem::find(&self.buffer, CRLF) {
                if !self.buffer[..end].iter().all(|b| matches!(b, b' ' | b'\t')) {
                    return Err(MultipartError::MalformedBoundaryLine);
                }
                self.buffer.advance(end + CRLF.len());
                return Ok(true);
            }
            if self.buffer.len() > MAX_PADDING + CRLF.len() {
                return Err(MultipartError::MalformedBoundaryLine);
            }
            self.fill().await?;
        }
    }

    async fn read_header_section(&mut self) -> Result<PartHeaders, MultipartError> {
        let limit = self.limits.max_header_section;
        loop {
            let end = if self.buffer.starts_with(CRLF) {
                Some(CRLF.len())
            } else {
                memchr::memmem::find(&self.buffer, b"\r\n\r\n").map(|start| start + 4)
            };
            match end {
                Some(end) if end <= limit => {
                    let section = self.buffer.split_to(end);
                    return Ok(parse_header_section(&section)?);
                }
                Some(_) => return Err(MultipartError::HeaderSectionTooLarge { limit }),
                None if self.buffer.len() >= limit => {
                    return Err(MultipartError::HeaderSectionTooLarge { limit })
                }
                None => self.fill().await?,
            }
        }
    }

    /// Appends the next piece of the request body to the buffer.
    async fn fill(&mut self) -> Result<(), MultipartError> {
        match self.body.next().await {
            Some(Ok(bytes)) => {
                self.buffer.extend_from_slice(&bytes);
                Ok(())
            }
            Some(Err(e)) => Err(MultipartError::Payload(e.to_string())),
            None => Err(MultipartError::Incomplete),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    const LIMITS: Limits = Limits {
        max_parts: 3,
        max_header_section: 256,
    };

    /// A reader over `body` delivered in pieces of `piece` bytes.
    fn reader(
        body: &[u8],
        piece: usize,
    ) -> MultipartReader<impl Stream<Item = Result<Bytes, Infallible>> + Unpin> {
        let pieces: Vec<_> = body
            .chunks(piece)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        MultipartReader::new("xyz", futures_util::stream::iter(pieces), LIMITS)
    }

    async fn read_all(body: &[u8], piece: usize) -> Result<Vec<(String, Vec<u8>)>, MultipartError> {
        let mut reader = reader(body, piece);
        let mut parts = Vec::new();
        while let Some(headers) = reader.next_part().await? {
            let mut content = Vec::new();
            while let Some(chunk) = reader.next_chunk().await? {
                content.extend_from_slice(&chunk);
            }
            parts.push((headers.name, content));
        }
        Ok(parts)
    }

    const FORM: &[u8] = b"preamble\r\n--xyz\r\n\
        Content-Disposition: form-data; name=\"title\"\r\n\r\nA title\r\n\
        --xyz  \r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\
        Content-Type: video/mp4\r\n\r\nbytes\r\n-- with \r\n--xy inside\r\n--xyz--\r\nepilogue";

    #[tokio::test]
    async fn parts_are_read_whatever_the_pieces_the_body_arrives_in() {
        let expected = vec![
            ("title".to_owned(), b"A title".to_vec()),
            (
                "file".to_owned(),
                b"bytes\r\n-- with \r\n--xy inside".to_vec(),
            ),
        ];
        for piece in 1..=FORM.len() {
            assert_eq!(
                read_all(FORM, piece).await.unwrap(),
                expected,
                "piece {piece}"
            );
        }
    }

    #[tokio::test]
    async fn a_body_may_open_with_its_first_boundary_and_parts_may_be_skipped() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
            --xyz\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--xyz--";
        let mut reader = reader(body, 7);
        assert_eq!(reader.next_part().await.unwrap().unwrap().name, "a");
        assert_eq!(reader.next_part().await.unwrap().unwrap().name, "b");
        assert_eq!(reader.next_chunk().await.unwrap().unwrap(), "2");
        assert!(reader.next_part().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_endless_header_section_is_refused_at_the_limit() {
        let mut body = b"--xyz\r\nX-Padding: ".to_vec();
        body.resize(100_000, b'a');
        let error = read_all(&body, 1000).await.unwrap_err();
        assert!(
            matches!(error, MultipartError::HeaderSectionTooLarge { limit: 256 }),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_long_preamble_and_too_many_parts_are_refused() {
        let mut body = vec![b'p'; 1000];
        body.extend_from_slice(FORM);
        let error = read_all(&body, 64).await.unwrap_err();
        assert!(
            matches!(error, MultipartError::PreambleTooLarge { .. }),
            "{error}"
        );

        let part = b"--xyz\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nx\r\n";
        let body = [part.repeat(4), b"--xyz--".to_vec()].concat();
        let error = read_all(&body, 64).await.unwrap_err();
        assert!(
            matches!(error, MultipartError::TooManyParts { limit: 3 }),
            "{error}"
        );
        assert_eq!(
            read_all(&[part.repeat(3), b"--xyz--".to_vec()].concat(), 64)
                .await
                .unwrap()
                .len(),
            3
        );
    }

    #[tokio::test]
    async fn truncated_and_malformed_bodies_are_refused() {
        let truncated = &FORM[..FORM.len() - 20];
        assert!(matches!(
            read_all(truncated, 16).await,
            Err(MultipartError::Incomplete)
        ));
        let bad_line = b"--xyz garbage\r\n\r\n--xyz--";
        assert!(matches!(
            read_all(bad_line, 16).await,
            Err(MultipartError::MalformedBoundaryLine)
        ));
        let no_name = b"--xyz\r\nContent-Type: text/plain\r\n\r\nx\r\n--xyz--";
        assert!(matches!(
            read_all(no_name, 16).await,
            Err(MultipartError::Headers(HeaderSectionError::MissingName))
        ));
    }

    #[test]
    fn header_sections_are_parsed_on_their_own() {
        let section =
            b"Content-Type: text/plain\r\ncontent-disposition: form-data; name=\"title\"\r\n\r\n";
        assert_eq!(parse_header_section(section).unwrap().name, "title");
        assert!(matches!(
            parse_header_section(b"Content-Disposition: attachment; name=\"x\"\r\n\r\n"),
            Err(HeaderSectionError::MissingName)
        ));
        assert!(matches!(
            parse_header_section(b"Content-Disposition: form-data; name=\"x\"\r\n"),
            Err(HeaderSectionError::Unterminated)
        ));
        assert!(matches!(
            parse_header_section(b"Bad Header\r\n\r\n"),
            Err(HeaderSectionError::Syntax(_))
        ));
        let many = "X: 1\r\n".repeat(MAX_PART_HEADERS + 1) + "\r\n";
        assert!(matches!(
            parse_header_section(many.as_bytes()),
            Err(HeaderSectionError::Syntax(httparse::Error::TooManyHeaders))
        ));
        assert!(parse_header_section(b"\r\n").is_err());
    }

    #[test]
    fn the_boundary_comes_from_a_form_data_content_type() {
        assert_eq!(
            form_boundary("multipart/form-data; boundary=abc").unwrap(),
            "abc"
        );
        assert_eq!(
            form_boundary("multipart/form-data; boundary=\"a b\"").unwrap(),
            "a b"
        );
        assert!(matches!(
            form_boundary("application/json"),
            Err(MultipartError::NotFormData)
        ));
        assert!(matches!(
            form_boundary("multipart/mixed; boundary=abc"),
            Err(MultipartError::NotFormData)
        ));
        assert!(matches!(
            form_boundary("multipart/form-data"),
            Err(MultipartError::InvalidBoundary)
        ));
        let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
        assert!(matches!(
            form_boundary(&long),
            Err(MultipartError::InvalidBoundary)
        ));
    }
}
