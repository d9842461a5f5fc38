//! Typed configuration from `GOFLIX_*` environment variables. Every
//! variable is declared once, with its kind, default and meaning, in the
//! [`settings`] table, which drives the parsing below, the check that
//! refuses an unknown `GOFLIX_*` variable (so a typo does not go
//! unnoticed; `GOFLIX_TEST_*` is left to the test suite) and the
//! configuration tables of `README.md` and `docs/interface.md`.
//!
//! Secrets may come from a file named by `NAME_FILE` (as mounted by
//! Kubernetes) and are held as [`SecretString`] so they never print. The
//! backends are parsed once into the enums of [`backends`], which print
//! without passwords ([`ServiceUrl`]).

pub mod backends;
pub mod frame_ancestors;
mod redact;
pub mod settings;
mod vars;

pub use backends::{Cache, Database, Queue, Storage};
pub(crate) use redact::redact_url;
pub use redact::ServiceUrl;
pub use settings::{markdown_table, Setting, SETTINGS};

use crate::client_ip::TrustedProxies;
use crate::domain::{LadderMode, VideoCodec};
use secrecy::SecretString;
use settings::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vars::Vars;

/// Settings for every role; each role reads the fields it needs. What each
/// field means is the doc of its entry in [`settings`].
#[derive(Debug, Clone)]
pub struct Config {
    /// `GOFLIX_LISTEN`.
    pub listen: SocketAddr,
    /// `GOFLIX_DATA_DIR`, made absolute.
    pub data_dir: PathBuf,
    /// `GOFLIX_DATABASE_URL`.
    pub database: Database,
    /// `GOFLIX_DATABASE_POOL`.
    pub database_pool: u32,
    /// `GOFLIX_STORAGE`.
    pub storage: Storage,
    /// `GOFLIX_QUEUE`.
    pub queue: Queue,
    /// `GOFLIX_CACHE`.
    pub cache: Cache,
    /// `GOFLIX_TOKEN_KEY_FILE`.
    pub token_key_file: PathBuf,
    /// `GOFLIX_TOKEN_PUBLIC_KEY_FILE`.
    pub token_public_key_file: PathBuf,
    /// `GOFLIX_ADMIN_EMAIL`.
    pub admin_email: Option<String>,
    /// `GOFLIX_ADMIN_PASSWORD`.
    pub admin_password: Option<SecretString>,
    /// `GOFLIX_MAX_UPLOAD_BYTES`.
    pub max_upload_bytes: u64,
    /// `GOFLIX_LADDER`.
    pub ladder: LadderMode,
    /// `GOFLIX_CODECS`: H.264 first, then the codecs added to it.
    pub codecs: Vec<VideoCodec>,
    /// `GOFLIX_DOWNLOADS` is `on`: new videos get a download by default.
    pub downloads: bool,
    /// `GOFLIX_DOWNLOAD_HEIGHT`.
    pub download_height: u32,
    /// `GOFLIX_PUBLIC_URL` (no trailing slash).
    pub public_url: Option<url::Url>,
    /// `GOFLIX_FRAME_ANCESTORS`.
    pub frame_ancestors: frame_ancestors::FrameAncestors,
    /// `GOFLIX_UPLOAD_EXPIRY_HOURS`.
    pub upload_expiry: Duration,
    /// `GOFLIX_IMPORT_ALLOW_PRIVATE` is `true`.
    pub import_allow_private: bool,
    /// `GOFLIX_IMPORT_TIMEOUT_SECONDS`.
    pub import_timeout: Duration,
    /// `GOFLIX_SMTP_URL`: `smtp://…`, `smtp://…?tls=starttls` or `smtps://…`.
    pub smtp_url: Option<SecretString>,
    /// `GOFLIX_SMTP_FROM`.
    pub smtp_from: Option<String>,
    /// `GOFLIX_SMS_URL`.
    pub sms_url: Option<SecretString>,
    /// `GOFLIX_SMS_FROM`.
    pub sms_from: Option<String>,
    /// `GOFLIX_WEBHOOK_ALLOW_PRIVATE` is `true`.
    pub webhook_allow_private: bool,
    /// `GOFLIX_NOTIFY_RETRY_MAX_SECONDS`.
    pub notify_retry_max: Duration,
    /// `GOFLIX_ORIGIN_CDN_SECRET` (never empty).
    pub origin_cdn_secret: Option<SecretString>,
    /// `GOFLIX_ORIGIN_CACHE_BYTES`.
    pub origin_cache_bytes: u64,
    /// `GOFLIX_SIGNUP` is `open`.
    pub signup_open: bool,
    /// `GOFLIX_DRAIN_SECONDS`.
    pub drain: Duration,
    /// `GOFLIX_LOG_FORMAT` is `json`.
    pub log_json: bool,
    /// `GOFLIX_TRUSTED_PROXIES`.
    pub trusted_proxies: TrustedProxies,
    /// `GOFLIX_STALL_TIMEOUT_SECONDS`.
    pub stall_timeout: Duration,
    /// `GOFLIX_JOB_MEMORY_MB`.
    pub job_memory_mb: u64,
    /// `GOFLIX_JOB_WALL_SECONDS`.
    pub job_wall: Duration,
    /// `GOFLIX_JOB_EXECUTABLE`; `None`: the running executable.
    pub job_executable: Option<PathBuf>,
    /// `GOFLIX_SERVE_WORKERS`.
    pub serve_workers: usize,
    /// `GOFLIX_GRPC_LISTEN`; `None`: no gRPC port.
    pub grpc_listen: Option<SocketAddr>,
    /// `GOFLIX_GRPC_TLS_CERT_FILE` and `GOFLIX_GRPC_TLS_KEY_FILE`, given together.
    pub grpc_tls: Option<TlsFiles>,
    /// `GOFLIX_RUNNER_TOKEN`.
    pub runner_token: Option<SecretString>,
    /// `GOFLIX_RUNNER_CA_FILE`.
    pub runner_ca_file: Option<PathBuf>,
}

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value is malformed.
    #[error("{name}: {message}")]
    Invalid {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A `GOFLIX_*` variable that no setting reads.
    #[error("unknown setting {0} (known: {known})", known = known_names())]
    Unknown(String),
}

/// The names of every setting, for the unknown-setting error.
fn known_names() -> String {
    let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    names.join(", ")
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads settings from `vars` (the environment, or a test's map).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env = Vars::new(vars)?;
        let data_dir = absolute(&env.value(&DATA_DIR, path)?);
        Ok(Self {
            listen: env.value(&LISTEN, address)?,
            database: env
                .optional(&DATABASE_URL, str::parse)?
                .unwrap_or_else(|| Database::sqlite_in(&data_dir)),
            database_pool: env.number(&DATABASE_POOL)?,
            storage: env
                .optional(&STORAGE, str::parse)?
                .unwrap_or_else(|| Storage::folder_in(&data_dir)),
            queue: env.value(&QUEUE, str::parse)?,
            cache: env.value(&CACHE, str::parse)?,
            token_key_file: env
                .optional(&TOKEN_KEY_FILE, path)?
                .unwrap_or_else(|| data_dir.join("token.key")),
            token_public_key_file: env
                .optional(&TOKEN_PUBLIC_KEY_FILE, path)?
                .unwrap_or_else(|| data_dir.join("token.pub")),
            admin_email: env.optional(&ADMIN_EMAIL, text)?,
            admin_password: env.optional(&ADMIN_PASSWORD, secret)?,
            max_upload_bytes: env.number(&MAX_UPLOAD_BYTES)?,
            ladder: env
                .choice(&LADDER)?
                .parse()
                .expect("every GOFLIX_LADDER choice is a ladder mode"),
            codecs: env
                .choice(&CODECS)?
                .split(',')
                .map(|codec| {
                    codec
                        .parse()
                        .expect("every GOFLIX_CODECS choice names codecs")
                })
                .collect(),
            downloads: env.choice(&DOWNLOADS)? == "on",
            download_height: env.number(&DOWNLOAD_HEIGHT)?,
            public_url: env.optional(&PUBLIC_URL, public_url)?,
            frame_ancestors: env.value(&FRAME_ANCESTORS, |v| {
                frame_ancestors::FrameAncestors::parse(v).map_err(|e| e.to_string())
            })?,
            upload_expiry: Duration::from_secs(3600 * env.number::<u64>(&UPLOAD_EXPIRY_HOURS)?),
            import_allow_private: env.choice(&IMPORT_ALLOW_PRIVATE)? == "true",
            import_timeout: Duration::from_secs(env.number(&IMPORT_TIMEOUT_SECONDS)?),
            smtp_url: env.optional(&SMTP_URL, secret)?,
            smtp_from: env.optional(&SMTP_FROM, text)?,
            sms_url: env.optional(&SMS_URL, secret)?,
            sms_from: env.optional(&SMS_FROM, text)?,
            webhook_allow_private: env.choice(&WEBHOOK_ALLOW_PRIVATE)? == "true",
            notify_retry_max: Duration::from_secs(env.number(&NOTIFY_RETRY_MAX_SECONDS)?),
            origin_cdn_secret: env.optional(&ORIGIN_CDN_SECRET, non_empty_secret)?,
            origin_cache_bytes: env.number(&ORIGIN_CACHE_BYTES)?,
            signup_open: env.choice(&SIGNUP)? == "open",
            drain: Duration::from_secs(env.number(&DRAIN_SECONDS)?),
            log_json: env.choice(&LOG_FORMAT)? == "json",
            trusted_proxies: env.value(&TRUSTED_PROXIES, TrustedProxies::parse)?,
            stall_timeout: Duration::from_secs(env.number(&STALL_TIMEOUT_SECONDS)?),
            job_memory_mb: env.number(&JOB_MEMORY_MB)?,
            job_wall: Duration::from_secs(env.number(&JOB_WALL_SECONDS)?),
            job_executable: env.optional(&JOB_EXECUTABLE, path)?,
            serve_workers: env.number(&SERVE_WORKERS)?,
            grpc_listen: env.optional(&GRPC_LISTEN, address)?,
            grpc_tls: match (
                env.optional(&GRPC_TLS_CERT_FILE, path)?,
                env.optional(&GRPC_TLS_KEY_FILE, path)?,
            ) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (None, None) => None,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: GRPC_TLS_CERT_FILE.name.into(),
                        message:
                            "GOFLIX_GRPC_TLS_CERT_FILE and GOFLIX_GRPC_TLS_KEY_FILE go together"
                                .into(),
                    })
                }
            },
            runner_token: env.optional(&RUNNER_TOKEN, secret)?,
            runner_ca_file: env.optional(&RUNNER_CA_FILE, path)?,
            data_dir,
        })
    }
}

fn address(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("{value:?} is not an address like 127.0.0.1:8080"))
}

/// An `http` or `https` base URL without query or fragment; a trailing
/// slash is dropped so paths can be appended.
fn public_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim_end_matches('/'))
        .map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{value:?} is not an http or https URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "{value:?} must not carry credentials, a query or a fragment"
        ));
    }
    Ok(url)
}

fn path(value: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(value))
}

fn text(value: &str) -> Result<String, String> {
    Ok(value.to_owned())
}

fn secret(value: &str) -> Result<SecretString, String> {
    Ok(value.into())
}

fn non_empty_secret(value: &str) -> Result<SecretString, String> {
    if value.trim().is_empty() {
        return Err("must not be empty (unset it to disable the check)".into());
    }
    secret(value)
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_live_in_the_data_dir() {
        let config = Config::from_vars(vars(&[("GOFLIX_DATA_DIR", "/srv/goflix")])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.storage,
            Storage::Folder("/srv/goflix/objects".into())
        );
        assert_eq!(
            config.database,
            Database::Sqlite("sqlite:///srv/goflix/goflix.db?mode=rwc".into())
        );
        assert_eq!(config.queue, Queue::Database);
        assert_eq!(config.cache, Cache::Memory);
        assert_eq!(config.max_upload_bytes, 8 << 30);
        assert_eq!(config.drain, Duration::from_secs(25));
        assert_eq!(config.notify_retry_max, Duration::from_secs(3600));
        assert!(!config.log_json && !config.webhook_allow_private);
        assert!(!config.import_allow_private && config.public_url.is_none());
        assert_eq!(config.upload_expiry, Duration::from_secs(24 * 3600));
        assert_eq!(config.trusted_proxies, TrustedProxies::default());
        assert_eq!(config.database_pool, 10);
        assert!(!config.signup_open);
        assert_eq!(config.token_key_file, Path::new("/srv/goflix/token.key"));
        assert_eq!(config.stall_timeout, Duration::from_secs(120));
        assert_eq!(config.job_memory_mb, 4096);
        assert!(config.job_executable.is_none());
        assert_eq!(config.serve_workers, 1);
        assert!(config.grpc_listen.is_none() && config.grpc_tls.is_none());
    }

    #[test]
    fn secrets_come_from_files_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "hunter2\n").unwrap();
        let config = Config::from_vars(vars(&[(
            "GOFLIX_ADMIN_PASSWORD_FILE",
            file.to_str().unwrap(),
        )]))
        .unwrap();
        let password = config.admin_password.as_ref().unwrap();
        assert_eq!(password.expose_secret(), "hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn debug_output_carries_no_password_of_any_backend_url() {
        let config = Config::from_vars(vars(&[
            (
                "GOFLIX_DATABASE_URL",
                "postgres://goflix:db-pw-1@db:5432/goflix",
            ),
            ("GOFLIX_QUEUE", "amqp://user:queue-pw-2@rabbit:5672/%2f"),
            ("GOFLIX_CACHE", "redis://:cache-pw-3@redis:6379/0"),
            ("GOFLIX_SMTP_URL", "smtps://mailer:smtp-pw-4@mail:465"),
            (
                "GOFLIX_SMS_URL",
                "https://AC1:sms-pw-5@api.twilio.test/send",
            ),
            (
                "GOFLIX_STORAGE",
                "s3://media?endpoint=http%3A%2F%2Fminio%3Astorage-pw-6%40minio%3A9000\
                 &region=eu-west-1",
            ),
        ]))
        .unwrap();
        let printed = format!("{config:?}");
        for password in [
            "db-pw-1",
            "queue-pw-2",
            "cache-pw-3",
            "smtp-pw-4",
            "sms-pw-5",
            "storage-pw-6",
        ] {
            assert!(!printed.contains(password), "{password} in {printed}");
        }
        // What is not secret still shows, to tell the backends apart.
        assert!(
            printed.contains("amqp://user:REDACTED@rabbit:5672/%2f"),
            "{printed}"
        );
        assert!(
            printed.contains("redis://:REDACTED@redis:6379/0"),
            "{printed}"
        );
        assert!(printed.contains("eu-west-1"), "{printed}");
        assert!(matches!(config.queue, Queue::Amqp(_)), "{printed}");
        assert_eq!(
            config.database.connection_url(),
            "postgres://goflix:db-pw-1@db:5432/goflix"
        );
    }

    #[test]
    fn unknown_and_malformed_settings_are_errors() {
        assert!(matches!(
            Config::from_vars(vars(&[("GOFLIX_LISTN", "x")])),
            Err(ConfigError::Unknown(_))
        ));
        assert!(Config::from_vars(vars(&[("GOFLIX_LISTEN", "nope")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_MAX_UPLOAD_BYTES", "-1")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_DATABASE_POOL", "0")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_ORIGIN_CDN_SECRET", " ")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_WEBHOOK_ALLOW_PRIVATE", "yes")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_NOTIFY_RETRY_MAX_SECONDS", "0")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_SIGNUP", "yes")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_TRUSTED_PROXIES", "10.0.0.0/40")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_STALL_TIMEOUT_SECONDS", "0")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_JOB_MEMORY_MB", "lots")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_JOB_WALL_SECONDS", "-5")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_DRAIN_SECONDS", "86401")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_LOG_FORMAT", "xml")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_PUBLIC_URL", "ftp://media")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_PUBLIC_URL", "https://m/?a=1")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_UPLOAD_EXPIRY_HOURS", "0")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_IMPORT_ALLOW_PRIVATE", "1")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_QUEUE", "kafka://broker")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_CACHE", "memcached://m")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_STORAGE", "ftp://host/objects")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_DATABASE_URL", "mysql://db/goflix")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_GRPC_LISTEN", "50051")])).is_err());
        assert!(Config::from_vars(vars(&[("GOFLIX_GRPC_TLS_CERT_FILE", "/tls.crt")])).is_err());
    }

    #[test]
    fn the_cdn_secret_is_optional_and_may_come_from_a_file() {
        let config = Config::from_vars(vars(&[])).unwrap();
        assert!(config.origin_cdn_secret.is_none());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cdn");
        std::fs::write(&file, "edge-secret\n").unwrap();
        let config = Config::from_vars(vars(&[(
            "GOFLIX_ORIGIN_CDN_SECRET_FILE",
            file.to_str().unwrap(),
        )]))
        .unwrap();
        let secret = config.origin_cdn_secret.as_ref().unwrap();
        assert_eq!(secret.expose_secret(), "edge-secret");
        assert!(!format!("{config:?}").contains("edge-secret"));
    }
}
