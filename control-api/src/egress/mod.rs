//! The SSRF guard of every request the control plane sends to a URL
//! somebody chose: webhook receivers (admins') and URL imports
//! (uploaders'). Such URLs point wherever their authors like, so unless
//! private addresses are allowed (`GOFLIX_WEBHOOK_ALLOW_PRIVATE`,
//! `GOFLIX_IMPORT_ALLOW_PRIVATE`):
//!
//! - [`check_url`] takes only `http` and `https` URLs with a host and no
//!   credentials, and refuses IP literals of internal addresses and
//!   `localhost` names up front;
//! - [`client_builder`] makes clients whose resolver ([`PublicOnly`])
//!   drops every internal address a host name resolves to, when
//!   connecting, and which ignore `HTTP(S)_PROXY`/`ALL_PROXY` (a proxy
//!   would resolve and reach the target out of sight of these checks);
//! - [`checked_redirects`] follows a bounded number of redirects, each
//!   target checked with [`check_url`] again: an IP literal in a
//!   `Location` never reaches the resolver, so without this check a
//!   public host could redirect to `http://169.254.169.254/`.
//!
//! Which addresses count as internal is [`address::is_public`].

mod address;

pub(crate) use address::{NotPublic, PublicOnly};

use reqwest::redirect::Policy;
use std::sync::Arc;
use url::{Host, Url};

/// Longest accepted URL.
pub(crate) const MAX_URL_LEN: usize = 2048;

/// Why [`check_url`] refused a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is too long")]
    TooLong,
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    NotAUrl(url::ParseError),
    /// A scheme other than `http` and `https`.
    #[error("only http and https URLs are accepted")]
    Scheme,
    /// A user name or password in the URL.
    #[error("credentials in the URL are not accepted")]
    Credentials,
    /// No host to connect to.
    #[error("the URL has no host")]
    NoHost,
    /// An internal IP literal or a `localhost` name.
    #[error("the URL points to an internal address")]
    Internal,
}

/// Checks a URL: `http` or `https`, a host, no credentials, and (unless
/// `allow_private`) no internal IP literal or `localhost` name.
pub(crate) fn check_url(raw: &str, allow_private: bool) -> Result<Url, Refusal> {
    if raw.len() > MAX_URL_LEN {
        return Err(Refusal::TooLong);
    }
    let url = Url::parse(raw).map_err(Refusal::NotAUrl)?;
    check_parsed(&url, allow_private)?;
    Ok(url)
}

fn check_parsed(url: &Url, allow_private: bool) -> Result<(), Refusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    let internal = match url.host() {
        None => return Err(Refusal::NoHost),
        Some(Host::Ipv4(ip)) => !address::is_public(ip.into()),
        Some(Host::Ipv6(ip)) => !address::is_public(ip.into()),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if internal && !allow_private {
        return Err(Refusal::Internal);
    }
    Ok(())
}

/// A client builder for requests to URLs somebody chose, with `user_agent`:
/// no proxies, and (unless `allow_private`) the [`PublicOnly`] resolver.
/// Callers add their timeouts and redirect policy.
pub(crate) fn client_builder(allow_private: bool, user_agent: &str) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().no_proxy().user_agent(user_agent);
    if allow_private {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    }
}

/// Why [`checked_redirects`] stopped following (found in a request error's
/// sources).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedirectRefused {
    /// The target failed [`check_url`].
    #[error("refused a redirect: {0}")]
    Target(Refusal),
    /// More than the allowed number of hops.
    #[error("more than {0} redirects")]
    TooMany(usize),
}

/// Follows at most `max` redirects, each target checked with
/// [`check_url`]'s rules (internal targets allowed only with
/// `allow_private`); a refused hop fails the request with
/// [`RedirectRefused`].
pub(crate) fn checked_redirects(max: usize, allow_private: bool) -> Policy {
    Policy::custom(move |attempt| {
        // `previous` starts with the URL first requested.
        if attempt.previous().len() > max {
            return attempt.error(RedirectRefused::TooMany(max));
        }
        match check_parsed(attempt.url(), allow_private) {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(RedirectRefused::Target(refusal)),
        }
    })
}

/// The first error of type `E` among `error` and its sources.
pub(crate) fn find_cause<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn only_plain_http_urls_to_public_hosts_pass_by_default() {
        assert!(check_url("https://media.example.com/a.mp4?sig=1", false).is_ok());
        assert!(check_url("http://93.184.216.34:8080/x", false).is_ok());
        let refused = [
            ("ftp://example.com/", Refusal::Scheme),
            ("file:///etc/passwd", Refusal::Scheme),
            ("gopher://example.com", Refusal::Scheme),
            ("http://user:pass@example.com/", Refusal::Credentials),
            ("http://127.0.0.1:9000/", Refusal::Internal),
            ("http://[::1]/", Refusal::Internal),
            ("http://[::ffff:10.0.0.1]/", Refusal::Internal),
            ("http://10.1.2.3/", Refusal::Internal),
            ("http://192.168.0.10/", Refusal::Internal),
            (
                "http://169.254.169.254/latest/meta-data/",
                Refusal::Internal,
            ),
            ("http://localhost/", Refusal::Internal),
            ("http://LOCALHOST./", Refusal::Internal),
            ("http://media.localhost/", Refusal::Internal),
            ("http://0x7f000001/", Refusal::Internal),
            ("http://2130706433/", Refusal::Internal),
            ("http://127.1/", Refusal::Internal),
        ];
        for (url, refusal) in refused {
            assert_eq!(check_url(url, false), Err(refusal), "{url}");
        }
        for not_a_url in ["not a url", "", "javascript:alert(1)"] {
            assert!(check_url(not_a_url, false).is_err(), "{not_a_url}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, false), Err(Refusal::TooLong));
    }

    #[test]
    fn allowing_private_addresses_keeps_the_other_rules() {
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("http://localhost/hook", true).is_ok());
        assert_eq!(check_url("ftp://127.0.0.1/", true), Err(Refusal::Scheme));
        assert_eq!(
            check_url("http://u:p@127.0.0.1/", true),
            Err(Refusal::Credentials)
        );
    }

    /// A server answering every request with `302 Location: {target}`
    /// (where `{port}` in `target` is its own port); counts the requests.
    async fn redirecting_to(target: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let location = target.replace("{port}", &addr.port().to_string());
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        (addr, requests)
    }

    /// A guarded client (private addresses refused) for which the name
    /// `public.test` is the local server at `addr`, as a public host that
    /// redirects would be; its first request goes there.
    async fn follow_from_public_host(
        addr: SocketAddr,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let client = client_builder(false, "goflix-test")
            .redirect(checked_redirects(5, false))
            .resolve("public.test", addr)
            .build()
            .unwrap();
        client
            .get(format!("http://public.test:{}/clip.mp4", addr.port()))
            .send()
            .await
    }

    fn refusal_of(error: &reqwest::Error) -> Option<&RedirectRefused> {
        find_cause::<RedirectRefused>(error)
    }

    #[tokio::test]
    async fn a_redirect_to_an_internal_ip_literal_is_not_followed() {
        for target in [
            "http://127.0.0.1:{port}/secret",
            "http://[::1]:{port}/secret",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:{port}/secret",
        ] {
            let (addr, requests) = redirecting_to(target).await;
            let error = follow_from_public_host(addr).await.unwrap_err();
            assert!(
                matches!(
                    refusal_of(&error),
                    Some(RedirectRefused::Target(Refusal::Internal))
                ),
                "{target}: {error:?}"
            );
            // Only the first request reached the server: the hop to the
            // loopback literal (which no resolver sees) was never made.
            assert_eq!(requests.load(Ordering::SeqCst), 1, "{target}");
        }
    }

    #[tokio::test]
    async fn redirects_to_other_schemes_and_endless_redirects_stop() {
        // Not followed: the redirect itself is the answer (not 2xx).
        let (addr, requests) = redirecting_to("file:///etc/passwd").await;
        let response = follow_from_public_host(addr).await.unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(requests.load(Ordering::SeqCst), 1);

        let (addr, requests) = redirecting_to("http://public.test:{port}/again").await;
        let error = follow_from_public_host(addr).await.unwrap_err();
        assert!(
            matches!(refusal_of(&error), Some(RedirectRefused::TooMany(5))),
            "{error:?}"
        );
        assert_eq!(
            requests.load(Ordering::SeqCst),
            6,
            "the first request and 5 hops"
        );
    }

    #[tokio::test]
    async fn a_name_of_an_internal_address_is_refused_when_connecting() {
        let (addr, requests) = redirecting_to("http://public.test:{port}/").await;
        let client = client_builder(false, "goflix-test").build().unwrap();
        // No URL check runs here: the resolver alone refuses the name.
        let error = client
            .get(format!("http://localhost:{}/", addr.port()))
            .send()
            .await
            .unwrap_err();
        assert!(find_cause::<NotPublic>(&error).is_some(), "{error:?}");
        assert_eq!(requests.load(Ordering::SeqCst), 0);
    }
}
