//! Webhook deliveries: URL checks at registration, and the signed POST
//! (see [`super::signing`] for the headers). A delivery is a success on
//! any 2xx answer; anything else is retried with backoff. Deliveries never
//! go through `HTTP(S)_PROXY`/`ALL_PROXY`: a proxy would resolve and reach
//! the target itself, out of sight of the address checks.

use super::address::{self, PublicOnly};
use super::dispatcher::Failure;
use super::signing::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::error::ApiError;
use reqwest::header::CONTENT_TYPE;
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Longest accepted webhook URL.
const MAX_URL_LEN: usize = 2048;
/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a webhook URL: `http` or `https`, a host, no credentials, and
/// (unless `allow_private`) no internal IP literal or `localhost`.
pub(crate) fn validate_url(raw: &str, allow_private: bool) -> Result<Url, ApiError> {
    let invalid = |message: &str| ApiError::bad_request("invalid_webhook_url", message.to_owned());
    if raw.len() > MAX_URL_LEN {
        return Err(invalid("the URL is too long"));
    }
    let url = Url::parse(raw).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https URLs are accepted"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the URL are not accepted; use the signing secret",
        ));
    }
    let internal = match url.host() {
        None => return Err(invalid("the URL has no host")),
        Some(Host::Ipv4(ip)) => !address::is_public(ip.into()),
        Some(Host::Ipv6(ip)) => !address::is_public(ip.into()),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if internal && !allow_private {
        return Err(invalid(
            "the URL points to an internal address (set GOFLIX_WEBHOOK_ALLOW_PRIVATE=true to allow it)",
        ));
    }
    Ok(url)
}

/// Posts signed deliveries.
pub(crate) struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl WebhookSender {
    /// A sender that reaches internal addresses only when `allow_private`.
    pub(crate) fn new(allow_private: bool) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("goflix-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build().map_err(|e| e.to_string())?,
            allow_private,
        })
    }

    /// Whether registrations may point to internal addresses.
    pub(crate) fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// POSTs `body` to `url`, signed with `secret`; returns the status.
    pub(crate) async fn deliver(
        &self,
        url: &str,
        secret: &str,
        delivery_id: &str,
        event: &str,
        body: Vec<u8>,
    ) -> Result<u16, Failure> {
        // Checked again: the setting may have changed since registration.
        let url =
            validate_url(url, self.allow_private).map_err(|e| Failure::permanent(e.to_string()))?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signing::sign(secret, timestamp, &body);
        let response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header("Goflix-Event", event)
            .header("Goflix-Delivery", delivery_id)
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::retry(None, format!("request failed: {}", error_chain(&e))))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            Ok(status)
        } else {
            Err(Failure::retry(
                Some(status),
                format!("the receiver answered {status}"),
            ))
        }
    }
}

/// `e` and its sources, so "error sending request" says why.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_to_public_hosts_pass_by_default() {
        assert!(validate_url("https://hooks.example.com/goflix", false).is_ok());
        assert!(validate_url("http://93.184.216.34:8080/x", false).is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com",
            "javascript:alert(1)",
            "http://user:pass@example.com/",
            "http://127.0.0.1:9000/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://0x7f000001/",
            "http://2130706433/",
            "not a url",
            "",
        ] {
            let error = validate_url(bad, false).unwrap_err();
            assert_eq!(error.code(), "invalid_webhook_url", "{bad}");
        }
        assert!(validate_url(
            &format!("https://example.com/{}", "a".repeat(MAX_URL_LEN)),
            false
        )
        .is_err());
    }

    #[test]
    fn the_operator_may_allow_internal_receivers() {
        assert!(validate_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(validate_url("http://localhost/hook", true).is_ok());
        assert!(validate_url("ftp://127.0.0.1/", true).is_err());
    }
}
