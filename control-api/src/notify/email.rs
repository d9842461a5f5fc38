//! E-mail over SMTP (lettre). `GOFLIX_SMTP_URL` is `smtp://host:port`
//! (plain), `smtp://host:port?tls=starttls` (STARTTLS, required) or
//! `smtps://host:port` (TLS from the first byte), with optional
//! `user:password@` credentials; TLS certificates are checked against the
//! system's roots. Each message is sent as text and HTML alternatives.

use super::dispatcher::Failure;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;
use url::Url;

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A configured SMTP sender.
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// A rendered e-mail.
pub(crate) struct Email {
    /// Recipient address.
    pub to: String,
    /// Subject line (line breaks are flattened).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

impl Mailer {
    /// A mailer for `url` sending as `from`.
    pub(crate) fn new(url: &str, from: Option<&str>) -> Result<Self, String> {
        let from = from
            .ok_or("GOFLIX_SMTP_FROM must be set when GOFLIX_SMTP_URL is")?
            .parse::<Mailbox>()
            .map_err(|e| format!("GOFLIX_SMTP_FROM: {e}"))?;
        let url = Url::parse(url).map_err(|e| format!("GOFLIX_SMTP_URL: {e}"))?;
        let host = url
            .host_str()
            .ok_or("GOFLIX_SMTP_URL: no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let mut tls_mode = None;
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls") => tls_mode = Some("starttls"),
                _ => {
                    return Err(format!(
                        "GOFLIX_SMTP_URL: unknown option {key}={value} (only tls=starttls)"
                    ))
                }
            }
        }
        let tls_parameters = || {
            TlsParameters::new(host.clone()).map_err(|e| format!("GOFLIX_SMTP_URL: TLS setup: {e}"))
        };
        let (tls, default_port) = match (url.scheme(), tls_mode) {
            ("smtp", None) => (Tls::None, 25),
            ("smtp", Some(_)) => (Tls::Required(tls_parameters()?), 587),
            ("smtps", None) => (Tls::Wrapper(tls_parameters()?), 465),
            (scheme, _) => {
                return Err(format!(
                "GOFLIX_SMTP_URL: scheme {scheme:?} is not smtp or smtps (smtps already uses TLS)"
            ))
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if !url.username().is_empty() {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            builder = builder.credentials(Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends `email`; SMTP 5xx answers and bad addresses are permanent
    /// failures, everything else is worth retrying.
    pub(crate) async fn send(&self, email: Email) -> Result<(), Failure> {
        let to = email
            .to
            .parse::<Mailbox>()
            .map_err(|e| Failure::permanent(format!("bad recipient address: {e}")))?;
        let subject: String = email
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject.trim())
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|e| Failure::permanent(format!("cannot build the message: {e}")))?;
        self.transport.send(message).await.map(drop).map_err(|e| {
            let code = e.status().map(u16::from);
            let text = super::webhook::error_chain(&e);
            if e.is_permanent() {
                Failure::permanent_with(code, format!("SMTP refused the message: {text}"))
            } else {
                Failure::retry(code, format!("SMTP delivery failed: {text}"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_plain_starttls_or_tls() {
        let from = Some("Goflix <noreply@example.com>");
        assert!(Mailer::new("smtp://127.0.0.1:2525", from).is_ok());
        assert!(Mailer::new("smtp://user:p%40ss@mail.example.com?tls=starttls", from).is_ok());
        assert!(Mailer::new("smtps://mail.example.com", from).is_ok());
        for bad in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=yes",
            "smtps://mail.example.com?tls=starttls",
            "smtp://",
            "mail.example.com:25",
        ] {
            assert!(Mailer::new(bad, from).is_err(), "{bad}");
        }
        assert!(Mailer::new("smtp://127.0.0.1", None).is_err());
        assert!(Mailer::new("smtp://127.0.0.1", Some("not an address")).is_err());
    }
}
