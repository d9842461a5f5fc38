//! SMS through an HTTP provider: a Twilio-style form POST of `To`, `From`
//! and `Body` to `GOFLIX_SMS_URL`, with basic-auth credentials taken from
//! the URL's user info (and removed from the URL itself). A 2xx answer is
//! a success; 408, 429 and 5xx are retried; other 4xx (a bad number) are
//! permanent.

use super::dispatcher::Failure;
use super::webhook::error_chain;
use std::time::Duration;
use url::Url;

/// How long one provider call may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A configured SMS provider.
pub(crate) struct SmsSender {
    client: reqwest::Client,
    url: Url,
    user: Option<(String, String)>,
    from: String,
}

impl SmsSender {
    /// A sender posting to `url` as `from`.
    pub(crate) fn new(url: &str, from: Option<&str>) -> Result<Self, String> {
        let from = from
            .filter(|f| !f.trim().is_empty())
            .ok_or("GOFLIX_SMS_FROM must be set when GOFLIX_SMS_URL is")?
            .to_owned();
        let mut url = Url::parse(url).map_err(|e| format!("GOFLIX_SMS_URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("GOFLIX_SMS_URL: must be an http or https URL with a host".into());
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let user = (!url.username().is_empty()).then(|| {
            (
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        });
        // Credentials go in the Authorization header only; never in logs.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        // Like webhooks, never through an `HTTP(S)_PROXY` from the environment.
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            url,
            user,
            from,
        })
    }

    /// Sends `body` to `to`; returns the provider's status.
    pub(crate) async fn send(&self, to: &str, body: &str) -> Result<u16, Failure> {
        let mut request = self.client.post(self.url.clone()).form(&[
            ("To", to),
            ("From", self.from.as_str()),
            ("Body", body),
        ]);
        if let Some((user, password)) = &self.user {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|e| {
            Failure::retry(
                None,
                format!("SMS provider unreachable: {}", error_chain(&e)),
            )
        })?;
        let status = response.status();
        let code = status.as_u16();
        if status.is_success() {
            Ok(code)
        } else if status.is_server_error() || code == 408 || code == 429 {
            Err(Failure::retry(
                Some(code),
                format!("the SMS provider answered {code}"),
            ))
        } else {
            Err(Failure::permanent_with(
                Some(code),
                format!("the SMS provider refused the message with {code}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url() {
        let sender = SmsSender::new(
            "https://AC123:s%3Acret@sms.example.com/2010-04-01/Messages.json",
            Some("+15005550006"),
        )
        .unwrap();
        assert_eq!(
            sender.url.as_str(),
            "https://sms.example.com/2010-04-01/Messages.json"
        );
        assert_eq!(sender.user, Some(("AC123".into(), "s:cret".into())));
        assert!(SmsSender::new("ftp://sms.example.com", Some("x")).is_err());
        assert!(SmsSender::new("https://sms.example.com", None).is_err());
    }
}
