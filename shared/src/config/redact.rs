//! [`ServiceUrl`]: a URL that may carry credentials and prints without
//! them, and [`redact_url`], the rule it prints by (also used for the
//! URLs other types keep, such as an S3 endpoint).

/// The URL of a backend (PostgreSQL, RabbitMQ, Redis) that may carry
/// credentials (`amqp://user:pass@…`, `redis://:pass@…`). It reads as a `&str`; its `Debug` shows the
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
pub(crate) fn redact_url(raw: &str) -> String {
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
