//! The one table of `GOFLIX_*` settings: each variable's name, the kind of
//! value it takes, its default and what it does. [`super::Config::from_vars`]
//! reads every setting through its entry here (kind ranges and literal
//! defaults included), the unknown-variable check accepts exactly these
//! names, and [`markdown_table`] renders the configuration tables of
//! `README.md` and `docs/interface.md` (a test keeps both equal to it).
//! A new setting is one entry here and one field of [`super::Config`].

use Fallback::{Described, Value};

/// One `GOFLIX_*` variable.
#[derive(Debug)]
pub struct Setting {
    /// The variable, e.g. `GOFLIX_LISTEN` (`GOFLIX_LISTEN_FILE` reads it from a file).
    pub name: &'static str,
    /// What a value looks like.
    pub kind: Kind,
    /// A secret: never printed; best given as `NAME_FILE`.
    pub secret: bool,
    /// What applies when the variable is unset.
    pub default: Fallback,
    /// What the setting does (Markdown, one line).
    pub doc: &'static str,
}

/// The kind of value a setting takes.
#[derive(Debug)]
pub enum Kind {
    /// A socket address, `host:port`.
    Address,
    /// A file or folder.
    Path,
    /// A URL whose scheme picks a backend or service.
    Url,
    /// Free text (an e-mail address, a sender, a secret).
    Text,
    /// A whole number of `unit` from `min` to `max`.
    Number {
        /// What is counted (`seconds`, `MiB`, …).
        unit: &'static str,
        /// The smallest accepted value.
        min: u64,
        /// The largest accepted value; `None`: what the field holds.
        max: Option<u64>,
    },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Comma-separated address blocks (`10.0.0.0/8, fd00::/8`).
    AddressBlocks,
}

/// What applies when a setting is unset.
#[derive(Debug)]
pub enum Fallback {
    /// This value, read exactly as if it were given.
    Value(&'static str),
    /// Worked out from other settings, or a feature left off, as described.
    Described(&'static str),
}

/// A number of seconds from `min` to `max`.
const fn seconds(min: u64, max: u64) -> Kind {
    Kind::Number {
        unit: "seconds",
        min,
        max: Some(max),
    }
}

/// A day, in seconds: the longest of the waits and timeouts.
const DAY: u64 = 86_400;

/// Shorthand for a setting that is no secret.
const fn plain(name: &'static str, kind: Kind, default: Fallback, doc: &'static str) -> Setting {
    Setting {
        name,
        kind,
        secret: false,
        default,
        doc,
    }
}

/// Shorthand for a secret setting.
const fn secret(name: &'static str, kind: Kind, default: Fallback, doc: &'static str) -> Setting {
    Setting {
        name,
        kind,
        secret: true,
        default,
        doc,
    }
}

pub(super) const LISTEN: Setting = plain(
    "GOFLIX_LISTEN",
    Kind::Address,
    Value("127.0.0.1:8080"),
    "HTTP listener",
);
pub(super) const DATA_DIR: Setting = plain(
    "GOFLIX_DATA_DIR",
    Kind::Path,
    Value("./goflix-data"),
    "where embedded defaults keep their files",
);
pub(super) const DATABASE_URL: Setting = secret(
    "GOFLIX_DATABASE_URL",
    Kind::Url,
    Described("`sqlite://{data dir}/goflix.db?mode=rwc`"),
    "`sqlite://…` or `postgres://…` (only `serve`, `control-api`, `migrate` and `user` use it)",
);
pub(super) const DATABASE_POOL: Setting = plain(
    "GOFLIX_DATABASE_POOL",
    Kind::Number {
        unit: "connections",
        min: 1,
        max: None,
    },
    Value("10"),
    "most database connections per process (SQLite in memory always uses 1)",
);
pub(super) const STORAGE: Setting = plain(
    "GOFLIX_STORAGE",
    Kind::Url,
    Described("`file://{data dir}/objects`"),
    "object storage: `file:///path`, or `s3://bucket?endpoint=http://host:9000&region=us-east-1&path_style=true&prefix=goflix` (every option optional)",
);
pub(super) const QUEUE: Setting = plain(
    "GOFLIX_QUEUE",
    Kind::Url,
    Value("database"),
    "job queue and event bus: `database` (embedded, `goflix serve` only) or `amqp://user:password@host:5672/vhost` (RabbitMQ; `?prefix=p` puts `p.` before every queue and exchange name)",
);
pub(super) const CACHE: Setting = plain(
    "GOFLIX_CACHE",
    Kind::Url,
    Value("memory"),
    "manifest cache: `memory`, or `redis://host:6379` (Redis behind the in-process tier; when Redis is down the origin serves from storage)",
);
pub(super) const TOKEN_KEY_FILE: Setting = plain(
    "GOFLIX_TOKEN_KEY_FILE",
    Kind::Path,
    Described("`{data dir}/token.key`"),
    "ed25519 signing key (generated when missing). To rotate, point it at a new key: control-api rewrites the public key file with the new key first and the previous one on the second line, so tokens signed before the rotation stay valid until they expire",
);
pub(super) const TOKEN_PUBLIC_KEY_FILE: Setting = plain(
    "GOFLIX_TOKEN_PUBLIC_KEY_FILE",
    Kind::Path,
    Described("`{data dir}/token.pub`"),
    "public keys the origin verifies with (hex, one a line: current, then previous; copy it to the origins after a rotation)",
);
pub(super) const ADMIN_EMAIL: Setting = plain(
    "GOFLIX_ADMIN_EMAIL",
    Kind::Text,
    Described("`admin@localhost`"),
    "e-mail of the first admin, created on first start",
);
pub(super) const ADMIN_PASSWORD: Setting = secret(
    "GOFLIX_ADMIN_PASSWORD",
    Kind::Text,
    Described("generated"),
    "that admin's password; when unset a random one is printed once and written mode 0600 to `{data dir}/admin-credentials.txt`",
);
pub(super) const MAX_UPLOAD_BYTES: Setting = plain(
    "GOFLIX_MAX_UPLOAD_BYTES",
    Kind::Number {
        unit: "bytes",
        min: 0,
        max: None,
    },
    Value("8589934592"),
    "largest accepted master, 8 GiB by default (413 beyond)",
);
pub(super) const LADDER: Setting = plain(
    "GOFLIX_LADDER",
    Kind::Choice(&["fixed", "per-title"]),
    Value("fixed"),
    "how the ladder's bitrates are chosen: `fixed`, every rung at its bitrate (capped at the source's); `per-title`, every rung at a constant quality (x264 CRF 21 from 720 lines up, 18 below) under that bitrate as a cap, so easy pictures take fewer bytes, and a rung that measures no better than the rung below it (luma PSNR against the top rung's input, on sampled GOPs) is dropped",
);
pub(super) const CODECS: Setting = plain(
    "GOFLIX_CODECS",
    Kind::Choice(&["h264", "h264,av1", "h264,hevc"]),
    Value("h264"),
    "the codecs of every video's ladder: `h264` alone, `h264,av1` to add an AV1 ladder (SVT-AV1, CMAF `av01`) or `h264,hevc` an HEVC one (x265, CMAF `hvc1`), keyframes aligned with H.264, encoded as a second job once the H.264 version is ready and listed beside H.264 in the manifests for players that decode it",
);
pub(super) const DOWNLOADS: Setting = plain(
    "GOFLIX_DOWNLOADS",
    Kind::Choice(&["off", "on"]),
    Value("off"),
    "`on` gives new videos a downloadable progressive MP4 (`playback.download`) unless their upload says `downloads=false`; each upload may also ask for one with `downloads=true`",
);
pub(super) const DOWNLOAD_HEIGHT: Setting = plain(
    "GOFLIX_DOWNLOAD_HEIGHT",
    Kind::Number {
        unit: "lines",
        min: 144,
        max: Some(4320),
    },
    Value("720"),
    "the download is the tallest rung of the ladder at most this high (the smallest rung when all are taller), with the default audio track; written from the same encode",
);
pub(super) const PUBLIC_URL: Setting = plain(
    "GOFLIX_PUBLIC_URL",
    Kind::Url,
    Described("unset: each request's scheme and `Host`"),
    "the public base URL of the API behind a proxy (`https://media.example.com`), used in tus `Location` headers and the `upload_url` of direct uploads",
);
pub(super) const FRAME_ANCESTORS: Setting = plain(
    "GOFLIX_FRAME_ANCESTORS",
    Kind::Text,
    Value("*"),
    "who may frame the embed page `/embed/{id}` of a public or unlisted video: a CSP `frame-ancestors` source list (`*`, `'self'`, `https://blog.example.com`, space-separated); private videos' embed pages and every other page may not be framed",
);
pub(super) const UPLOAD_EXPIRY_HOURS: Setting = plain(
    "GOFLIX_UPLOAD_EXPIRY_HOURS",
    Kind::Number {
        unit: "hours",
        min: 1,
        max: Some(24 * 30),
    },
    Value("24"),
    "how long an unfinished tus upload (and its direct-upload token) lives after creation; then its bytes are removed and S3 multipart uploads aborted",
);
pub(super) const IMPORT_ALLOW_PRIVATE: Setting = plain(
    "GOFLIX_IMPORT_ALLOW_PRIVATE",
    Kind::Choice(&["false", "true"]),
    Value("false"),
    "for tests only: `true` lets URL imports fetch from loopback, private and link-local addresses (refused by default against SSRF)",
);
pub(super) const IMPORT_TIMEOUT_SECONDS: Setting = plain(
    "GOFLIX_IMPORT_TIMEOUT_SECONDS",
    seconds(1, DAY),
    Value("3600"),
    "longest a URL import may take from connecting to its last byte (`import_timeout` beyond); a connection or a read that stalls for 30 s fails it sooner",
);
pub(super) const SMTP_URL: Setting = secret(
    "GOFLIX_SMTP_URL",
    Kind::Url,
    Described("unset: no e-mail"),
    "notification e-mail: `smtp://[user:pass@]host:port` (plain), `smtp://…?tls=starttls` (STARTTLS required) or `smtps://…` (TLS)",
);
pub(super) const SMTP_FROM: Setting = plain(
    "GOFLIX_SMTP_FROM",
    Kind::Text,
    Described("unset"),
    "sender of e-mails, like `Goflix <noreply@example.com>`",
);
pub(super) const SMS_URL: Setting = secret(
    "GOFLIX_SMS_URL",
    Kind::Url,
    Described("unset: no SMS"),
    "SMS provider endpoint, a Twilio-style form POST of `To`, `From`, `Body` with basic-auth credentials in the URL (`https://sid:token@api.example.com/…`)",
);
pub(super) const SMS_FROM: Setting = plain(
    "GOFLIX_SMS_FROM",
    Kind::Text,
    Described("unset"),
    "sender number or name of SMS messages",
);
pub(super) const WEBHOOK_ALLOW_PRIVATE: Setting = plain(
    "GOFLIX_WEBHOOK_ALLOW_PRIVATE",
    Kind::Choice(&["false", "true"]),
    Value("false"),
    "`true` lets webhooks reach loopback, private and link-local addresses (refused by default against SSRF)",
);
pub(super) const NOTIFY_RETRY_MAX_SECONDS: Setting = plain(
    "GOFLIX_NOTIFY_RETRY_MAX_SECONDS",
    seconds(1, DAY),
    Value("3600"),
    "longest wait between delivery attempts of a notification (waits double from 1 s; a delivery is given up after 40 attempts)",
);
pub(super) const ORIGIN_CDN_SECRET: Setting = secret(
    "GOFLIX_ORIGIN_CDN_SECRET",
    Kind::Text,
    Described("unset: open origin"),
    "when set (not empty), the origin refuses requests without this value in the `X-Goflix-Cdn-Secret` header (403 `cdn_secret_required`); the CDN adds the header",
);
pub(super) const ORIGIN_CACHE_BYTES: Setting = plain(
    "GOFLIX_ORIGIN_CACHE_BYTES",
    Kind::Number {
        unit: "bytes",
        min: 16 << 20,
        max: None,
    },
    Value("268435456"),
    "byte budget of the origin's media cache on a remote store (S3): finished versions' media in 1 MiB slices, concurrent misses coalesced into one GET; the 256 MiB default holds the hot segments of a release (60–120 segments of 2–4 MiB) in a 512 MiB pod (the folder backend reads files directly and caches nothing)",
);
pub(super) const SIGNUP: Setting = plain(
    "GOFLIX_SIGNUP",
    Kind::Choice(&["closed", "open"]),
    Value("closed"),
    "`open` lets anyone create a `viewer` account with `POST /api/v1/users` (mailed a verification token); `closed` leaves account creation to admins",
);
pub(super) const DRAIN_SECONDS: Setting = plain(
    "GOFLIX_DRAIN_SECONDS",
    seconds(0, DAY),
    Value("25"),
    "after SIGTERM: how long in-flight requests and running transcodes get to finish; then requests are dropped and jobs released to the queue for another worker (Kubernetes' `terminationGracePeriodSeconds` must cover the `preStop` sleep plus this)",
);
pub(super) const LOG_FORMAT: Setting = plain(
    "GOFLIX_LOG_FORMAT",
    Kind::Choice(&["text", "json"]),
    Value("text"),
    "`json` writes one JSON object per log line",
);
pub(super) const TRUSTED_PROXIES: Setting = plain(
    "GOFLIX_TRUSTED_PROXIES",
    Kind::AddressBlocks,
    Value(""),
    "reverse proxies whose `X-Forwarded-For` names the client for per-IP rate limits: the rightmost hop that is not itself a trusted proxy. Unset, the peer address is the client and the header is ignored, so clients cannot pick their own rate-limit key",
);
pub(super) const STALL_TIMEOUT_SECONDS: Setting = plain(
    "GOFLIX_STALL_TIMEOUT_SECONDS",
    seconds(1, DAY),
    Value("120"),
    "a transcode with no progress (no frame encoded, no output written) for this long is killed and retried (`stalled` once attempts run out)",
);
pub(super) const JOB_MEMORY_MB: Setting = plain(
    "GOFLIX_JOB_MEMORY_MB",
    Kind::Number {
        unit: "MiB",
        min: 16,
        max: Some(1 << 30),
    },
    Value("4096"),
    "address-space limit of each job's transcode process (`resource_limit` once attempts run out); a 1080p five-rung job peaks near 1.5 GiB on 2 cores, more with more cores",
);
pub(super) const JOB_WALL_SECONDS: Setting = plain(
    "GOFLIX_JOB_WALL_SECONDS",
    seconds(1, 7 * DAY),
    Value("21600"),
    "longest a job's transcode process may run; it may use this many CPU seconds per core",
);
pub(super) const JOB_EXECUTABLE: Setting = plain(
    "GOFLIX_JOB_EXECUTABLE",
    Kind::Path,
    Described("this executable"),
    "the `goflix` binary started for each job's media work (`goflix transcode-child`)",
);

pub(super) const SERVE_WORKERS: Setting = plain(
    "GOFLIX_SERVE_WORKERS",
    Kind::Number {
        unit: "jobs",
        min: 0,
        max: Some(64),
    },
    Value("1"),
    "`goflix serve`: jobs it transcodes in-process at once; `0` leaves transcoding to remote runners (`GOFLIX_GRPC_LISTEN`)",
);
pub(super) const GRPC_LISTEN: Setting = plain(
    "GOFLIX_GRPC_LISTEN",
    Kind::Address,
    Described("no gRPC port: remote runners cannot connect"),
    "control-api: address of the gRPC port remote transcoding runners connect to (`goflix.runner.v1`, with `grpc.health.v1` and reflection)",
);
pub(super) const GRPC_TLS_CERT_FILE: Setting = plain(
    "GOFLIX_GRPC_TLS_CERT_FILE",
    Kind::Path,
    Described("plain-text HTTP/2: only behind a proxy that terminates TLS"),
    "control-api: PEM certificate chain of the gRPC port (set with `GOFLIX_GRPC_TLS_KEY_FILE`)",
);
pub(super) const GRPC_TLS_KEY_FILE: Setting = plain(
    "GOFLIX_GRPC_TLS_KEY_FILE",
    Kind::Path,
    Described("plain-text HTTP/2"),
    "control-api: PEM private key of `GOFLIX_GRPC_TLS_CERT_FILE`",
);
pub(super) const RUNNER_TOKEN: Setting = secret(
    "GOFLIX_RUNNER_TOKEN",
    Kind::Text,
    Described("none: the runner uses the credential kept in its data dir"),
    "`goflix runner`: the registration token it exchanges for its own credential on first start; best given as `GOFLIX_RUNNER_TOKEN_FILE`",
);
pub(super) const RUNNER_CA_FILE: Setting = plain(
    "GOFLIX_RUNNER_CA_FILE",
    Kind::Path,
    Described("the system's trusted roots"),
    "`goflix runner`: PEM certificate of the authority it also trusts for the server's TLS (an `https://` `--server`)",
);

/// Every setting, in the order the documentation lists them.
pub const SETTINGS: &[&Setting] = &[
    &LISTEN,
    &DATA_DIR,
    &DATABASE_URL,
    &DATABASE_POOL,
    &STORAGE,
    &QUEUE,
    &CACHE,
    &TOKEN_KEY_FILE,
    &TOKEN_PUBLIC_KEY_FILE,
    &ADMIN_EMAIL,
    &ADMIN_PASSWORD,
    &SIGNUP,
    &TRUSTED_PROXIES,
    &MAX_UPLOAD_BYTES,
    &LADDER,
    &CODECS,
    &DOWNLOADS,
    &DOWNLOAD_HEIGHT,
    &PUBLIC_URL,
    &FRAME_ANCESTORS,
    &UPLOAD_EXPIRY_HOURS,
    &IMPORT_TIMEOUT_SECONDS,
    &IMPORT_ALLOW_PRIVATE,
    &DRAIN_SECONDS,
    &STALL_TIMEOUT_SECONDS,
    &JOB_MEMORY_MB,
    &JOB_WALL_SECONDS,
    &JOB_EXECUTABLE,
    &SERVE_WORKERS,
    &GRPC_LISTEN,
    &GRPC_TLS_CERT_FILE,
    &GRPC_TLS_KEY_FILE,
    &RUNNER_TOKEN,
    &RUNNER_CA_FILE,
    &LOG_FORMAT,
    &SMTP_URL,
    &SMTP_FROM,
    &SMS_URL,
    &SMS_FROM,
    &ORIGIN_CDN_SECRET,
    &ORIGIN_CACHE_BYTES,
    &WEBHOOK_ALLOW_PRIVATE,
    &NOTIFY_RETRY_MAX_SECONDS,
];

/// The setting named `name`, or the one `name` gives from a file (`NAME_FILE`).
pub(super) fn find(name: &str) -> Option<&'static Setting> {
    let base = name.strip_suffix("_FILE");
    SETTINGS
        .iter()
        .copied()
        .find(|s| s.name == name || Some(s.name) == base)
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Address => f.write_str("address"),
            Self::Path => f.write_str("path"),
            Self::Url => f.write_str("URL"),
            Self::Text => f.write_str("text"),
            Self::Number { unit, min, max } => match (min, max) {
                (0, None) => f.write_str(unit),
                (min, None) => write!(f, "{unit}, from {min}"),
                (min, Some(max)) => write!(f, "{unit}, from {min} to {max}"),
            },
            Self::Choice(words) => {
                let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
                f.write_str(&quoted.join(" or "))
            }
            Self::AddressBlocks => f.write_str("address blocks"),
        }
    }
}

/// The settings as a Markdown table (variable, value, default, meaning),
/// as `README.md` and `docs/interface.md` carry it.
pub fn markdown_table() -> String {
    let mut table = String::from("| variable | value | default | meaning |\n|---|---|---|---|\n");
    for setting in SETTINGS {
        let value = if setting.secret {
            format!("{}, secret", setting.kind)
        } else {
            setting.kind.to_string()
        };
        let default = match setting.default {
            Value("") => "unset".to_owned(),
            Value(value) => format!("`{value}`"),
            Described(text) => text.to_owned(),
        };
        table.push_str(&format!(
            "| `{}` | {value} | {default} | {} |\n",
            setting.name, setting.doc
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_choices_are_the_ladder_modes() {
        let Kind::Choice(words) = LADDER.kind else {
            panic!("GOFLIX_LADDER is a choice");
        };
        let modes: Vec<&str> = crate::domain::LadderMode::ALL
            .iter()
            .map(|mode| mode.as_str())
            .collect();
        assert_eq!(words, modes.as_slice());
    }

    #[test]
    fn every_codecs_choice_starts_with_h264_and_adds_at_most_one_known_codec() {
        let Kind::Choice(words) = CODECS.kind else {
            panic!("GOFLIX_CODECS is a choice");
        };
        for word in words {
            let codecs: Vec<crate::domain::VideoCodec> =
                word.split(',').map(|c| c.parse().unwrap()).collect();
            assert_eq!(codecs[0], crate::domain::VideoCodec::H264, "{word}");
            // The added codec is one job's ladder, and a job encodes one.
            assert!(codecs.len() <= 2, "{word}");
        }
    }

    /// Where the generated table sits in a document.
    const START: &str = "<!-- settings table: generated from shared/src/config/settings.rs -->\n";
    const END: &str = "<!-- end of settings table -->";

    fn documented_table(document: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(document);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let start = text
            .find(START)
            .unwrap_or_else(|| panic!("{document} has no line {START:?}"))
            + START.len();
        let end = text[start..]
            .find(END)
            .unwrap_or_else(|| panic!("{document} has no line {END:?} after the table"));
        text[start..start + end].to_owned()
    }

    #[test]
    fn the_documented_tables_are_the_settings_table() {
        let table = markdown_table();
        for document in ["README.md", "docs/interface.md"] {
            assert!(
                documented_table(document) == table,
                "{document}: the settings table differs from shared/src/config/settings.rs; \
                 put this between its markers:\n{table}"
            );
        }
    }

    #[test]
    fn names_are_unique_and_literal_defaults_are_valid_values() {
        for (i, setting) in SETTINGS.iter().enumerate() {
            assert!(
                SETTINGS[i + 1..].iter().all(|s| s.name != setting.name),
                "{} twice",
                setting.name
            );
            if let (Value(value), Kind::Choice(words)) = (&setting.default, &setting.kind) {
                assert!(words.contains(value), "{}", setting.name);
            }
        }
        assert!(find("GOFLIX_ORIGIN_CDN_SECRET_FILE").is_some());
        assert!(find("GOFLIX_LISTN").is_none());
    }
}
