//! `goflix healthcheck URL`: a dependency-free HTTP/1.1 GET for container
//! health checks (images carry no curl).

use anyhow::{bail, Context};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Succeeds when `url` (plain `http://host:port/path`) answers with a 2xx status within 5 s.
pub async fn probe(url: &str) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(5), get_status(url))
        .await
        .context("timed out after 5 s")?
        .and_then(|status| {
            if (200..300).contains(&status) {
                Ok(())
            } else {
                bail!("{url} answered {status}")
            }
        })
}

async fn get_status(url: &str) -> anyhow::Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains(['@', ' ']) {
        bail!("bad host in {url}");
    }
    let mut stream = TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: goflix-healthcheck\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP response from {url}"))?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn server(response: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            socket.write_all(response.as_bytes()).await.unwrap();
        });
        format!("http://{addr}/healthz")
    }

    #[tokio::test]
    async fn success_and_failure_statuses() {
        let ok = server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        assert!(probe(&ok).await.is_ok());
        let down = server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").await;
        assert!(probe(&down).await.is_err());
        assert!(probe("https://example.invalid/").await.is_err());
        assert!(probe("http://127.0.0.1:1/").await.is_err());
    }
}
