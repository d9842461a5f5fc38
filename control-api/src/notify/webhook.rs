//! Webhook deliveries: URL checks at registration, and the signed POST
//! (see [`super::signing`] for the headers). A delivery is a success on
//! any 2xx answer; anything else is retried with backoff. Redirects are not
//! followed. The URL checks and the client's resolver are the SSRF guard
//! of [`crate::egress`]; deliveries never go through
//! `HTTP(S)_PROXY`/`ALL_PROXY`.

use super::dispatcher::Failure;
use super::signing::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::egress::{self, Refusal};
use crate::error::ApiError;
use reqwest::header::CONTENT_TYPE;
use std::time::Duration;
use url::Url;

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a webhook URL with the SSRF guard's rules ([`egress::check_url`]):
/// `http` or `https`, a host, no credentials, and (unless `allow_private`)
/// no internal IP literal or `localhost`.
pub(crate) fn validate_url(raw: &str, allow_private: bool) -> Result<Url, ApiError> {
    egress::check_url(raw, allow_private).map_err(|refusal| {
        let hint = match refusal {
            Refusal::Credentials => "; use the signing secret",
            Refusal::Internal => " (set GOFLIX_WEBHOOK_ALLOW_PRIVATE=true to allow it)",
            _ => "",
        };
        ApiError::bad_request("invalid_webhook_url", format!("{refusal}{hint}"))
    })
}

/// Posts signed deliveries.
pub(crate) struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl WebhookSender {
    /// A sender that reaches internal addresses only when `allow_private`.
    pub(crate) fn new(allow_private: bool) -> Result<Self, String> {
        let client = egress::client_builder(
            allow_private,
            concat!("goflix-webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
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
            &format!("https://example.com/{}", "a".repeat(egress::MAX_URL_LEN)),
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
