//! Typed configuration from `GOFLIX_*` environment variables, with defaults
//! in code. Secrets may come from a file named by `NAME_FILE` (as mounted by
//! Kubernetes) and are held as [`SecretString`] so they never print; the
//! backend URLs print as [`ServiceUrl`]s, without passwords. An
//! unknown `GOFLIX_*` variable is an error, so a typo does not go unnoticed
//! (`GOFLIX_TEST_*` is left to the test suite).

use crate::client_ip::TrustedProxies;
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings for every role; each role reads the fields it needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// `GOFLIX_LISTEN`: address of the role's HTTP listener (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// `GOFLIX_DATA_DIR`: where embedded defaults keep their files (default `./goflix-data`).
    pub data_dir: PathBuf,
    /// `GOFLIX_DATABASE_URL`: `sqlite://…` or `postgres://…` (default SQLite in the data dir).
    pub database_url: SecretString,
    /// `GOFLIX_DATABASE_POOL`: most database connections one process opens (default 10; SQLite in memory always uses 1).
    pub database_pool: u32,
    /// `GOFLIX_STORAGE`: `file:///path` or `s3://bucket?…` (default `{data_dir}/objects`).
    pub storage_url: ServiceUrl,
    /// `GOFLIX_QUEUE`: `database` or `amqp://…` (default `database`).
    pub queue_url: ServiceUrl,
    /// `GOFLIX_CACHE`: `memory` or `redis://…` (default `memory`).
    pub cache_url: ServiceUrl,
    /// `GOFLIX_TOKEN_KEY_FILE`: control-api's ed25519 private key (default `{data_dir}/token.key`, generated when missing).
    pub token_key_file: PathBuf,
    /// `GOFLIX_TOKEN_PUBLIC_KEY_FILE`: the public key the origin checks tokens with (default `{data_dir}/token.pub`).
    pub token_public_key_file: PathBuf,
    /// `GOFLIX_ADMIN_EMAIL`: e-mail of the admin created on first start.
    pub admin_email: Option<String>,
    /// `GOFLIX_ADMIN_PASSWORD`: that admin's password (random and printed once when unset).
    pub admin_password: Option<SecretString>,
    /// `GOFLIX_MAX_UPLOAD_BYTES`: largest accepted master (default 8 GiB).
    pub max_upload_bytes: u64,
    /// `GOFLIX_SMTP_URL`: e-mail delivery: `smtp://[user:pass@]host:port`
    /// (plain), `smtp://…?tls=starttls` (STARTTLS required) or `smtps://…`
    /// (TLS from the first byte); unset disables e-mail.
    pub smtp_url: Option<SecretString>,
    /// `GOFLIX_SMTP_FROM`: sender address of e-mails.
    pub smtp_from: Option<String>,
    /// `GOFLIX_SMS_URL`: SMS provider endpoint, a Twilio-style form POST
    /// (`To`, `From`, `Body`) with basic-auth credentials in the URL's user
    /// info (keep it in `GOFLIX_SMS_URL_FILE`); unset disables SMS.
    pub sms_url: Option<SecretString>,
    /// `GOFLIX_SMS_FROM`: the sender number or name of SMS messages.
    pub sms_from: Option<String>,
    /// `GOFLIX_WEBHOOK_ALLOW_PRIVATE`: `true` lets webhooks reach loopback,
    /// private and link-local addresses (default `false`: such URLs are
    /// refused, so a webhook cannot probe the internal network).
    pub webhook_allow_private: bool,
    /// `GOFLIX_NOTIFY_RETRY_MAX_SECONDS`: longest wait between two delivery
    /// attempts of a notification (default 3600; waits double from 1 s).
    pub notify_retry_max: Duration,
    /// `GOFLIX_ORIGIN_CDN_SECRET`: when set, the origin refuses requests
    /// without it in the `X-Goflix-Cdn-Secret` header (403
    /// `cdn_secret_required`); the CDN adds the header. Unset: open origin.
    pub origin_cdn_secret: Option<SecretString>,
    /// `GOFLIX_SIGNUP`: `open` lets anyone create a `viewer` account with
    /// `POST /api/v1/users`; `closed` (default) leaves account creation to admins.
    pub signup_open: bool,
    /// `GOFLIX_DRAIN_SECONDS`: after SIGTERM, how long in-flight requests
    /// and a transcoder's running jobs get to finish before requests are
    /// dropped and jobs released to the queue (default 25). Kubernetes'
    /// `terminationGracePeriodSeconds` must cover the `preStop` sleep plus this.
    pub drain: Duration,
    /// `GOFLIX_LOG_FORMAT`: `text` (default) or `json` (one object per line).
    pub log_json: bool,
    /// `GOFLIX_TRUSTED_PROXIES`: comma-separated address blocks (e.g.
    /// `10.0.0.0/8`) of reverse proxies whose `X-Forwarded-For` names the
    /// client for per-IP rate limits; unset: the peer address is the client.
    pub trusted_proxies: TrustedProxies,
    /// `GOFLIX_STALL_TIMEOUT_SECONDS`: a transcode that makes no progress
    /// (no frame encoded, no output written) for this long is killed and
    /// retried; `stalled` once attempts run out (default 120).
    pub stall_timeout: Duration,
    /// `GOFLIX_JOB_MEMORY_MB`: address-space limit of a job's transcode
    /// process in MiB; a job over it is retried, then fails with
    /// `resource_limit` (default 4096).
    pub job_memory_mb: u64,
    /// `GOFLIX_JOB_WALL_SECONDS`: longest a job's transcode process may
    /// run; it may use this many CPU seconds per core (default 21600).
    pub job_wall: Duration,
    /// `GOFLIX_JOB_EXECUTABLE`: the `goflix` executable started as each
    /// job's transcode process (default: the running executable).
    pub job_executable: Option<PathBuf>,
}

/// A backend URL (`GOFLIX_STORAGE`, `GOFLIX_QUEUE`, `GOFLIX_CACHE`) that
/// may carry credentials (`amqp://user:pass@…`, `redis://:pass@…`, an S3
/// endpoint with a key in it). It reads as a `&str`; its `Debug` shows the
/// URL with every password and secret-looking query value replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceUrl(String);

/// What a password or secret value prints as.
const REDACTED: &str = "REDACTED";

/// Query parameters whose values are secrets, by a part of their name.
const SECRET_PARAMETER_HINTS: &[&str] = &[
    "pass",
    "secret",
    "key",
    "token",
    "sig",
    "credential",
    "auth",
];

impl ServiceUrl {
    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ServiceUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl std::ops::Deref for ServiceUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for ServiceUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

/// `raw` with its password and secret query values replaced (recursively,
/// for a URL given as a query value); a value that is not a URL with a
/// host prints only when it is one plain word (`database`, `memory`).
fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        let plain_word = raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        return if plain_word {
            raw.to_owned()
        } else {
            REDACTED.to_owned()
        };
    };
    if url.cannot_be_a_base() {
        return REDACTED.to_owned();
    }
    if url.password().is_some() {
        // Cannot fail: the URL has a host, since it has a password.
        let _ = url.set_password(Some(REDACTED));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let lowercase = name.to_ascii_lowercase();
                let value = if SECRET_PARAMETER_HINTS.iter().any(|h| lowercase.contains(h)) {
                    REDACTED.to_owned()
                } else if value.contains("://") {
                    redact_url(&value)
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if url.fragment().is_some() {
        url.set_fragment(Some(REDACTED));
    }
    url.into()
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
    #[error("unknown setting {0} (known: {known})", known = KNOWN.join(", "))]
    Unknown(String),
}

/// Every variable the configuration reads (each may also be given as `NAME_FILE`).
const KNOWN: &[&str] = &[
    "GOFLIX_LISTEN",
    "GOFLIX_DATA_DIR",
    "GOFLIX_DATABASE_URL",
    "GOFLIX_DATABASE_POOL",
    "GOFLIX_STORAGE",
    "GOFLIX_QUEUE",
    "GOFLIX_CACHE",
    "GOFLIX_TOKEN_KEY_FILE",
    "GOFLIX_TOKEN_PUBLIC_KEY_FILE",
    "GOFLIX_ADMIN_EMAIL",
    "GOFLIX_ADMIN_PASSWORD",
    "GOFLIX_MAX_UPLOAD_BYTES",
    "GOFLIX_SMTP_URL",
    "GOFLIX_SMTP_FROM",
    "GOFLIX_SMS_URL",
    "GOFLIX_SMS_FROM",
    "GOFLIX_WEBHOOK_ALLOW_PRIVATE",
    "GOFLIX_NOTIFY_RETRY_MAX_SECONDS",
    "GOFLIX_ORIGIN_CDN_SECRET",
    "GOFLIX_SIGNUP",
    "GOFLIX_DRAIN_SECONDS",
    "GOFLIX_LOG_FORMAT",
    "GOFLIX_TRUSTED_PROXIES",
    "GOFLIX_STALL_TIMEOUT_SECONDS",
    "GOFLIX_JOB_MEMORY_MB",
    "GOFLIX_JOB_WALL_SECONDS",
    "GOFLIX_JOB_EXECUTABLE",
];

/// Default size of the database connection pool.
const DEFAULT_DATABASE_POOL: u32 = 10;
/// Default upload limit: 8 GiB.
const DEFAULT_MAX_UPLOAD_BYTES: u64 = 8 << 30;
/// Default cap of the wait between notification delivery attempts: an hour.
const DEFAULT_NOTIFY_RETRY_MAX_SECONDS: u64 = 3600;
/// Default drain after SIGTERM, in seconds.
const DEFAULT_DRAIN_SECONDS: u64 = 25;
/// Longest accepted drain: a day.
const MAX_DRAIN_SECONDS: u64 = 86_400;
/// Default stall timeout of a transcode, in seconds.
const DEFAULT_STALL_TIMEOUT_SECONDS: u64 = 120;
/// Default address-space limit of a transcode process: 4 GiB.
const DEFAULT_JOB_MEMORY_MB: u64 = 4096;
/// Default wall-time limit of a transcode process: 6 hours.
const DEFAULT_JOB_WALL_SECONDS: u64 = 6 * 3600;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads settings from `vars` (the environment, or a test's map).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            // `GOFLIX_TEST_*` belong to the test suite (service URLs), never to a role.
            .filter(|(k, _)| k.starts_with("GOFLIX_") && !k.starts_with("GOFLIX_TEST_"))
            .collect();
        for name in vars.keys() {
            let base = name.strip_suffix("_FILE").unwrap_or(name);
            if !KNOWN.contains(&name.as_str()) && !KNOWN.contains(&base) {
                return Err(ConfigError::Unknown(name.clone()));
            }
        }
        let env = Vars(vars);
        let data_dir = PathBuf::from(
            env.get("GOFLIX_DATA_DIR")?
                .unwrap_or_else(|| "./goflix-data".into()),
        );
        let absolute_data = absolute(&data_dir);
        let listen = env
            .get("GOFLIX_LISTEN")?
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen.parse().map_err(|_| ConfigError::Invalid {
            name: "GOFLIX_LISTEN".into(),
            message: format!("{listen:?} is not an address like 127.0.0.1:8080"),
        })?;
        let max_upload_bytes = match env.get("GOFLIX_MAX_UPLOAD_BYTES")? {
            None => DEFAULT_MAX_UPLOAD_BYTES,
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: "GOFLIX_MAX_UPLOAD_BYTES".into(),
                message: format!("{v:?} is not a number of bytes"),
            })?,
        };
        let database_pool = match env.get("GOFLIX_DATABASE_POOL")? {
            None => DEFAULT_DATABASE_POOL,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "GOFLIX_DATABASE_POOL".into(),
                    message: format!("{v:?} is not a positive number of connections"),
                })?,
        };
        let origin_cdn_secret = match env.get("GOFLIX_ORIGIN_CDN_SECRET")? {
            Some(secret) if secret.trim().is_empty() => {
                return Err(ConfigError::Invalid {
                    name: "GOFLIX_ORIGIN_CDN_SECRET".into(),
                    message: "must not be empty (unset it to disable the check)".into(),
                })
            }
            secret => secret.map(Into::into),
        };
        let drain = match env.get("GOFLIX_DRAIN_SECONDS")? {
            None => DEFAULT_DRAIN_SECONDS,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n <= MAX_DRAIN_SECONDS)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "GOFLIX_DRAIN_SECONDS".into(),
                    message: format!(
                        "{v:?} is not a number of seconds from 0 to {MAX_DRAIN_SECONDS}"
                    ),
                })?,
        };
        let log_json = match env.get("GOFLIX_LOG_FORMAT")?.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "GOFLIX_LOG_FORMAT".into(),
                    message: format!("{other:?} is neither text nor json"),
                })
            }
        };
        let signup_open = match env.get("GOFLIX_SIGNUP")?.as_deref() {
            None | Some("closed") => false,
            Some("open") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "GOFLIX_SIGNUP".into(),
                    message: format!("{other:?} is neither open nor closed"),
                })
            }
        };
        let trusted_proxies =
            TrustedProxies::parse(&env.get("GOFLIX_TRUSTED_PROXIES")?.unwrap_or_default())
                .map_err(|message| ConfigError::Invalid {
                    name: "GOFLIX_TRUSTED_PROXIES".into(),
                    message,
                })?;
        Ok(Self {
            stall_timeout: Duration::from_secs(env.number(
                "GOFLIX_STALL_TIMEOUT_SECONDS",
                DEFAULT_STALL_TIMEOUT_SECONDS,
                1..=86_400,
                "seconds",
            )?),
            job_memory_mb: env.number(
                "GOFLIX_JOB_MEMORY_MB",
                DEFAULT_JOB_MEMORY_MB,
                16..=1 << 30,
                "MiB",
            )?,
            job_wall: Duration::from_secs(env.number(
                "GOFLIX_JOB_WALL_SECONDS",
                DEFAULT_JOB_WALL_SECONDS,
                1..=7 * 86_400,
                "seconds",
            )?),
            job_executable: env.get("GOFLIX_JOB_EXECUTABLE")?.map(PathBuf::from),
            trusted_proxies,
            signup_open,
            drain: Duration::from_secs(drain),
            log_json,
            listen,
            database_pool,
            database_url: env
                .get("GOFLIX_DATABASE_URL")?
                .unwrap_or_else(|| {
                    format!(
                        "sqlite://{}?mode=rwc",
                        absolute_data.join("goflix.db").display()
                    )
                })
                .into(),
            storage_url: env
                .get("GOFLIX_STORAGE")?
                .unwrap_or_else(|| format!("file://{}", absolute_data.join("objects").display()))
                .into(),
            queue_url: env
                .get("GOFLIX_QUEUE")?
                .unwrap_or_else(|| "database".into())
                .into(),
            cache_url: env
                .get("GOFLIX_CACHE")?
                .unwrap_or_else(|| "memory".into())
                .into(),
            token_key_file: env
                .get("GOFLIX_TOKEN_KEY_FILE")?
                .map(PathBuf::from)
                .unwrap_or_else(|| absolute_data.join("token.key")),
            token_public_key_file: env
                .get("GOFLIX_TOKEN_PUBLIC_KEY_FILE")?
                .map(PathBuf::from)
                .unwrap_or_else(|| absolute_data.join("token.pub")),
            admin_email: env.get("GOFLIX_ADMIN_EMAIL")?,
            admin_password: env.get("GOFLIX_ADMIN_PASSWORD")?.map(Into::into),
            max_upload_bytes,
            smtp_url: env.get("GOFLIX_SMTP_URL")?.map(Into::into),
            smtp_from: env.get("GOFLIX_SMTP_FROM")?,
            sms_url: env.get("GOFLIX_SMS_URL")?.map(Into::into),
            sms_from: env.get("GOFLIX_SMS_FROM")?,
            webhook_allow_private: match env.get("GOFLIX_WEBHOOK_ALLOW_PRIVATE")?.as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "GOFLIX_WEBHOOK_ALLOW_PRIVATE".into(),
                        message: format!("{other:?} is neither true nor false"),
                    })
                }
            },
            notify_retry_max: match env.get("GOFLIX_NOTIFY_RETRY_MAX_SECONDS")? {
                None => Duration::from_secs(DEFAULT_NOTIFY_RETRY_MAX_SECONDS),
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n| (1..=86_400).contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "GOFLIX_NOTIFY_RETRY_MAX_SECONDS".into(),
                        message: format!("{v:?} is not a number of seconds from 1 to 86400"),
                    })?,
            },
            origin_cdn_secret,
            data_dir: absolute_data,
        })
    }
}

struct Vars(HashMap<String, String>);

impl Vars {
    /// `NAME`, or the trimmed contents of the file named by `NAME_FILE`.
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        if let Some(value) = self.0.get(name) {
            return Ok(Some(value.clone()));
        }
        let file_var = format!("{name}_FILE");
        match self.0.get(&file_var) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path)
                .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|e| ConfigError::Invalid {
                    name: file_var,
                    message: format!("cannot read {path}: {e}"),
                }),
        }
    }

    /// `NAME` as a whole number in `range` of `unit`, or `default` when unset.
    fn number(
        &self,
        name: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
        unit: &str,
    ) -> Result<u64, ConfigError> {
        match self.get(name)? {
            None => Ok(default),
            Some(v) => {
                v.parse()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| ConfigError::Invalid {
                        name: name.into(),
                        message: format!(
                            "{v:?} is not a number of {unit} from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    })
            }
        }
    }
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
        assert_eq!(config.storage_url, "file:///srv/goflix/objects");
        assert_eq!(
            config.database_url.expose_secret(),
            "sqlite:///srv/goflix/goflix.db?mode=rwc"
        );
        assert_eq!(config.queue_url, "database");
        assert_eq!(config.database_pool, 10);
        assert!(!config.signup_open);
        assert_eq!(config.token_key_file, Path::new("/srv/goflix/token.key"));
        assert_eq!(config.stall_timeout, Duration::from_secs(120));
        assert_eq!(config.job_memory_mb, 4096);
        assert!(config.job_executable.is_none());
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
                 &secret_access_key=storage-pw-7&region=eu-west-1",
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
            "storage-pw-7",
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
        assert!(printed.contains("region=eu-west-1"), "{printed}");
        assert_eq!(config.queue_url, "amqp://user:queue-pw-2@rabbit:5672/%2f");
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
