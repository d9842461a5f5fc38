//! The tus 1.0.0 wire format: header names, the version and extension
//! lists, `Upload-Metadata`, `Upload-Checksum` and offset parsing, and the
//! digests the checksum extension compares. Pure functions over header
//! values, tested on their own.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::Digest as _;

/// The protocol version spoken, in `Tus-Resumable` and `Tus-Version`.
pub const VERSION: &str = "1.0.0";
/// The extensions supported, in `Tus-Extension`.
pub const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
/// The checksum algorithms supported, in `Tus-Checksum-Algorithm`.
pub const CHECKSUM_ALGORITHMS: &str = "sha1,sha256";
/// The content type of every body that carries upload bytes.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// `Tus-Resumable`.
pub const TUS_RESUMABLE: &str = "tus-resumable";
/// `Tus-Version`.
pub const TUS_VERSION: &str = "tus-version";
/// `Tus-Extension`.
pub const TUS_EXTENSION: &str = "tus-extension";
/// `Tus-Max-Size`.
pub const TUS_MAX_SIZE: &str = "tus-max-size";
/// `Tus-Checksum-Algorithm`.
pub const TUS_CHECKSUM_ALGORITHM: &str = "tus-checksum-algorithm";
/// `Upload-Offset`.
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// `Upload-Length`.
pub const UPLOAD_LENGTH: &str = "upload-length";
/// `Upload-Defer-Length` (not supported: the length is needed up front).
pub const UPLOAD_DEFER_LENGTH: &str = "upload-defer-length";
/// `Upload-Metadata`.
pub const UPLOAD_METADATA: &str = "upload-metadata";
/// `Upload-Expires`.
pub const UPLOAD_EXPIRES: &str = "upload-expires";
/// `Upload-Checksum`.
pub const UPLOAD_CHECKSUM: &str = "upload-checksum";
/// `X-HTTP-Method-Override`, for clients that can only send POST.
pub const METHOD_OVERRIDE: &str = "x-http-method-override";

/// Headers a browser may read from tus responses (CORS).
pub const EXPOSED_HEADERS: &str = "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm";
/// Headers a browser may send on tus requests (CORS).
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Checksum, Upload-Defer-Length, Upload-Concat, Tus-Resumable, X-HTTP-Method-Override, X-Requested-With";
/// Methods a browser may use on tus routes (CORS).
pub const ALLOWED_METHODS: &str = "POST, HEAD, PATCH, DELETE, OPTIONS";

/// Most key-value pairs accepted in `Upload-Metadata`.
const MAX_METADATA_PAIRS: usize = 32;

/// A header value that breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `Upload-Offset` or `Upload-Length` is not a non-negative integer.
    #[error("{0} must be a non-negative integer")]
    NotANumber(&'static str),
    /// `Upload-Metadata` is malformed.
    #[error("Upload-Metadata: {0}")]
    Metadata(String),
    /// `Upload-Checksum` is not `<algorithm> <base64 digest>`.
    #[error("Upload-Checksum must be \"<algorithm> <base64 digest>\"")]
    MalformedChecksum,
    /// `Upload-Checksum` names an algorithm not supported.
    #[error("checksum algorithm {0:?} is not supported (supported: sha1, sha256)")]
    UnsupportedAlgorithm(String),
}

/// Parses `Upload-Offset` or `Upload-Length` (named `header` in errors):
/// ASCII digits only, as the specification asks.
pub fn parse_size(header: &'static str, value: &str) -> Result<u64, ProtocolError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProtocolError::NotANumber(header));
    }
    value.parse().map_err(|_| ProtocolError::NotANumber(header))
}

/// The decoded `Upload-Metadata`: pairs of a key and an optional value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata(Vec<(String, Option<Vec<u8>>)>);

impl Metadata {
    /// Parses `key base64,key2 base64,key3`: keys are unique, non-empty
    /// and free of spaces and commas; values are base64 (any bytes).
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let invalid = |message: String| ProtocolError::Metadata(message);
        let mut pairs = Vec::new();
        if value.trim().is_empty() {
            return Ok(Self(pairs));
        }
        for pair in value.split(',') {
            let pair = pair.trim();
            let (key, encoded) = match pair.split_once(' ') {
                Some((key, encoded)) => (key, Some(encoded.trim())),
                None => (pair, None),
            };
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(format!("invalid key {key:?}")));
            }
            if pairs.iter().any(|(k, _)| k == key) {
                return Err(invalid(format!("the key {key:?} appears twice")));
            }
            let decoded = match encoded {
                None | Some("") => None,
                Some(encoded) => Some(
                    STANDARD
                        .decode(encoded)
                        .map_err(|_| invalid(format!("the value of {key:?} is not base64")))?,
                ),
            };
            pairs.push((key.to_owned(), decoded));
            if pairs.len() > MAX_METADATA_PAIRS {
                return Err(invalid(format!("more than {MAX_METADATA_PAIRS} pairs")));
            }
        }
        Ok(Self(pairs))
    }

    /// The value of `key` as text; `Err` when it is not UTF-8.
    pub fn text(&self, key: &str) -> Result<Option<String>, ProtocolError> {
        match self.0.iter().find(|(k, _)| k == key) {
            None | Some((_, None)) => Ok(None),
            Some((_, Some(bytes))) => String::from_utf8(bytes.clone())
                .map(Some)
                .map_err(|_| ProtocolError::Metadata(format!("the value of {key:?} is not UTF-8"))),
        }
    }

    /// Encodes `pairs` (key, text value) as an `Upload-Metadata` value.
    pub fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        let encoded: Vec<String> = pairs
            .into_iter()
            .map(|(key, value)| format!("{key} {}", STANDARD.encode(value)))
            .collect();
        encoded.join(",")
    }
}

/// A checksum algorithm of the checksum extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// SHA-1 (the one every client supports).
    Sha1,
    /// SHA-256.
    Sha256,
}

/// `Upload-Checksum`: what the body of one PATCH must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The digest the client computed.
    pub digest: Vec<u8>,
}

impl ExpectedChecksum {
    /// Parses `sha1 <base64 digest>`.
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let (name, encoded) = value
            .trim()
            .split_once(' ')
            .ok_or(ProtocolError::MalformedChecksum)?;
        let algorithm = match name.to_ascii_lowercase().as_str() {
            "sha1" => ChecksumAlgorithm::Sha1,
            "sha256" => ChecksumAlgorithm::Sha256,
            _ => return Err(ProtocolError::UnsupportedAlgorithm(name.to_owned())),
        };
        let digest = STANDARD
            .decode(encoded.trim())
            .map_err(|_| ProtocolError::MalformedChecksum)?;
        Ok(Self { algorithm, digest })
    }
}

/// A running digest of a PATCH body.
pub enum Hasher {
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl Hasher {
    /// A fresh digest of `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
        }
    }

    /// The digest of everything added.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_plain_digits() {
        assert_eq!(parse_size("Upload-Offset", "0"), Ok(0));
        assert_eq!(parse_size("Upload-Offset", "8589934592"), Ok(8 << 30));
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1.0",
            "0x10",
            "99999999999999999999999",
        ] {
            assert!(parse_size("Upload-Offset", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata_decodes_pairs_and_refuses_malformed_ones() {
        let metadata = Metadata::parse("title bXkgY2xpcA==,filename Y2xpcC5tcDQ=,flag").unwrap();
        assert_eq!(metadata.text("title").unwrap().as_deref(), Some("my clip"));
        assert_eq!(
            metadata.text("filename").unwrap().as_deref(),
            Some("clip.mp4")
        );
        assert_eq!(metadata.text("flag").unwrap(), None);
        assert_eq!(metadata.text("absent").unwrap(), None);
        assert_eq!(Metadata::parse("").unwrap(), Metadata::default());
        for bad in [
            "title !!!",
            "title YQ==,title Yg==",
            "title YQ==,,x",
            "ti\u{e9}tle YQ==",
        ] {
            assert!(Metadata::parse(bad).is_err(), "{bad:?}");
        }
        let not_utf8 = Metadata::parse("title //8=").unwrap();
        assert!(not_utf8.text("title").is_err());
        let many: Vec<String> = (0..40).map(|i| format!("k{i} YQ==")).collect();
        assert!(Metadata::parse(&many.join(",")).is_err());
    }

    #[test]
    fn metadata_round_trips() {
        let encoded =
            Metadata::encode([("title", "Ünïcode, with commas"), ("visibility", "private")]);
        let decoded = Metadata::parse(&encoded).unwrap();
        assert_eq!(
            decoded.text("title").unwrap().as_deref(),
            Some("Ünïcode, with commas")
        );
        assert_eq!(
            decoded.text("visibility").unwrap().as_deref(),
            Some("private")
        );
    }

    #[test]
    fn checksums_name_a_supported_algorithm_and_a_base64_digest() {
        let mut hasher = Hasher::new(ChecksumAlgorithm::Sha1);
        hasher.update(b"hello");
        let digest = hasher.finish();
        // sha1("hello"), as every implementation computes it.
        assert_eq!(
            hex::encode(&digest),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
        let expected = ExpectedChecksum::parse(&format!("sha1 {}", STANDARD.encode(&digest)));
        assert_eq!(
            expected,
            Ok(ExpectedChecksum {
                algorithm: ChecksumAlgorithm::Sha1,
                digest
            })
        );
        assert!(matches!(
            ExpectedChecksum::parse("md5 XUFAKrxLKna5cZ2REBfFkg=="),
            Err(ProtocolError::UnsupportedAlgorithm(_))
        ));
        assert_eq!(
            ExpectedChecksum::parse("sha1"),
            Err(ProtocolError::MalformedChecksum)
        );
        assert_eq!(
            ExpectedChecksum::parse("sha1 not*base64"),
            Err(ProtocolError::MalformedChecksum)
        );
    }
}
