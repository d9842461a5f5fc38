//! Request bodies are bounded before they are buffered: a multipart part's
//! header section, the number of parts, the text fields, an upload sent
//! chunked (no `Content-Length`) past `GOFLIX_MAX_UPLOAD_BYTES`, JSON and
//! form bodies, and bodies sent to the origin. The memory attacks stream
//! their bodies from a generator over a raw connection against a separate
//! `goflix serve`, watching its peak resident set while they send.

use crate::common::{spawn_app_with, TestApp};
use crate::hostile::serve_process::{ServeProcess, SERIAL};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How far a server's peak resident set may rise during one attack.
const MAX_GROWTH_MIB: f64 = 64.0;
/// The multipart boundary of every hand-made body.
const BOUNDARY: &str = "goflix-hostile-boundary";
/// Bytes of the body per HTTP chunk.
const CHUNK: usize = 256 * 1024;

/// What the client sends after the opening bytes of its multipart body.
enum Filler {
    /// A header line that never ends: no CRLF, so no blank line either.
    HeaderLine,
    /// File content.
    Content,
}

/// A chunked request body: `opening`, then `filler` up to `total` bytes in
/// all, then `closing`; generated as it is sent, never held in memory.
struct ChunkedBody {
    opening: Vec<u8>,
    filler: Filler,
    closing: Vec<u8>,
    total: u64,
}

/// What became of one request sent by [`send_chunked`].
#[derive(Debug)]
struct Outcome {
    /// The response status, if the server answered.
    status: Option<u16>,
    /// The response body, parsed as JSON (`Null` if it is not).
    body: Value,
    /// Body bytes written before the client stopped.
    sent: u64,
    /// Peak resident set growth of the server while the request ran, in MiB.
    growth_mib: f64,
}

/// Sends `body` chunked to `target` on `server` and reads the answer. The
/// client stops sending as soon as the server has answered (unless
/// `send_all`), closes the connection, or its peak memory has grown past
/// [`MAX_GROWTH_MIB`] (an unbounded server would otherwise eat the
/// machine), and after `deadline` in any case.
async fn send_chunked(
    server: &ServeProcess,
    request_head: &str,
    body: ChunkedBody,
    send_all: bool,
    deadline: Duration,
) -> Outcome {
    server.reset_peak();
    let baseline = server.status_kib("VmHWM");
    let address = server.base.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(address).await.unwrap();
    let (read, mut write) = stream.into_split();
    let answer = tokio::spawn(read_response(read));
    let started = Instant::now();
    let mut sent = 0u64;
    let filler = match body.filler {
        Filler::HeaderLine => vec![b'a'; CHUNK],
        Filler::Content => (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect(),
    };
    let filler_chunks =
        (body.total - body.opening.len() as u64 - body.closing.len() as u64) / CHUNK as u64;
    let pieces = std::iter::once(body.opening)
        .chain(std::iter::repeat_n(filler, filler_chunks as usize))
        .chain(std::iter::once(body.closing))
        .filter(|piece| !piece.is_empty())
        .map(|piece| (frame(&piece), piece.len() as u64))
        .chain(std::iter::once((b"0\r\n\r\n".to_vec(), 0)));
    write
        .write_all(request_head.as_bytes())
        .await
        .expect("request head");
    for (framed, data_len) in pieces {
        if (answer.is_finished() && !send_all) || server.peak_growth_mib(baseline) > MAX_GROWTH_MIB
        {
            break;
        }
        let remaining = deadline.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, write.write_all(&framed)).await {
            Ok(Ok(())) => sent += data_len,
            // The server closed the connection, stopped reading, or the deadline passed.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let _ = write.shutdown().await;
    let remaining = deadline
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(5));
    let (status, body) = tokio::time::timeout(remaining, answer)
        .await
        .ok()
        .and_then(|joined| joined.ok())
        .flatten()
        .map_or((None, Value::Null), |(status, body)| (Some(status), body));
    Outcome {
        status,
        body,
        sent,
        growth_mib: server.peak_growth_mib(baseline),
    }
}

/// One HTTP/1.1 chunk carrying `data`.
fn frame(data: &[u8]) -> Vec<u8> {
    let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
    framed.extend_from_slice(data);
    framed.extend_from_slice(b"\r\n");
    framed
}

/// Reads a response head and its `Content-Length` body; `None` if the
/// connection closed before a status line.
async fn read_response(mut read: tokio::net::tcp::OwnedReadHalf) -> Option<(u16, Value)> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match read.read(&mut buffer).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while received.len() < head_end + length {
        match read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    let body = serde_json::from_slice(&received[head_end..]).unwrap_or(Value::Null);
    Some((status, body))
}

/// The head of a chunked upload to `POST /api/v1/videos`.
fn upload_head(token: &str) -> String {
    format!(
        "POST /api/v1/videos HTTP/1.1\r\nHost: goflix\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
}

/// The opening of a form whose `title` is `title`, up to the headers of its file part.
fn form_opening(title: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"master.mp4\"\r\n\
         Content-Type: video/mp4\r\n"
    )
    .into_bytes()
}

async fn assert_healthy(server: &ServeProcess) {
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .expect("the server still answers");
    assert!(health.status().is_success(), "{}", server.log_text());
}

/// The videos `GET /api/v1/videos` lists to an admin.
async fn videos(base: &str, token: &str) -> Value {
    let list: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/videos"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"].clone()
}

/// How many masters are stored under the data folder `data`.
fn masters_in(data: &std::path::Path) -> usize {
    std::fs::read_dir(data.join("objects/masters"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_1_5_gb_part_header_section_is_refused_in_bounded_memory() {
    let _serial = SERIAL.lock().await;
    let server = ServeProcess::start(&[]).await;
    let token = server.admin_token().await;
    let mut opening = form_opening("header bomb");
    opening.extend_from_slice(b"X-Padding: ");
    let outcome = send_chunked(
        &server,
        &upload_head(&token),
        ChunkedBody {
            opening,
            filler: Filler::HeaderLine,
            closing: Vec::new(),
            total: 1536 * 1024 * 1024,
        },
        false,
        Duration::from_secs(120),
    )
    .await;
    eprintln!("header section: {outcome:?}");
    assert!(
        outcome.growth_mib < MAX_GROWTH_MIB,
        "peak RSS grew by {:.0} MiB after {} bytes",
        outcome.growth_mib,
        outcome.sent
    );
    assert_eq!(outcome.status, Some(400), "{outcome:?}");
    assert_eq!(outcome.body["code"], "part_headers_too_large");
    assert!(
        outcome.sent < 64 * 1024 * 1024,
        "the server kept reading: {outcome:?}"
    );
    assert_eq!(masters_in(&server.data_dir.path().join("data")), 0);
    assert_healthy(&server).await;
}

#[tokio::test]
async fn a_chunked_upload_past_the_limit_is_413_and_stores_nothing() {
    let _serial = SERIAL.lock().await;
    let limit = 8 * 1024 * 1024;
    let server = ServeProcess::start(&[("GOFLIX_MAX_UPLOAD_BYTES", &limit.to_string())]).await;
    let token = server.admin_token().await;
    let total = 64 * 1024 * 1024;
    let mut opening = form_opening("too big");
    opening.extend_from_slice(b"\r\n");
    let outcome = send_chunked(
        &server,
        &upload_head(&token),
        ChunkedBody {
            opening,
            filler: Filler::Content,
            closing: format!("\r\n--{BOUNDARY}--\r\n").into_bytes(),
            total,
        },
        false,
        Duration::from_secs(120),
    )
    .await;
    eprintln!("chunked upload: {outcome:?}");
    assert!(outcome.growth_mib < MAX_GROWTH_MIB, "{outcome:?}");
    assert_eq!(outcome.status, Some(413), "{outcome:?}");
    assert_eq!(outcome.body["code"], "payload_too_large");
    assert!(
        outcome.sent < total,
        "the server read the whole upload before answering: {outcome:?}"
    );
    assert_eq!(
        masters_in(&server.data_dir.path().join("data")),
        0,
        "a master was stored"
    );
    assert_eq!(videos(&server.base, &token).await, serde_json::json!([]));
    assert_healthy(&server).await;
}

#[tokio::test]
async fn a_body_sent_to_the_origin_is_not_buffered() {
    let _serial = SERIAL.lock().await;
    let server = ServeProcess::start(&[]).await;
    let head = "GET /v/00000000-0000-0000-0000-000000000000/master.m3u8 HTTP/1.1\r\n\
                Host: goflix\r\nTransfer-Encoding: chunked\r\n\r\n";
    let outcome = send_chunked(
        &server,
        head,
        ChunkedBody {
            opening: Vec::new(),
            filler: Filler::Content,
            closing: Vec::new(),
            total: 256 * 1024 * 1024,
        },
        true,
        Duration::from_secs(60),
    )
    .await;
    eprintln!("origin: {outcome:?}");
    assert!(outcome.growth_mib < MAX_GROWTH_MIB, "{outcome:?}");
    assert_eq!(outcome.status, Some(404), "{outcome:?}");
    assert_healthy(&server).await;
}

/// Uploads a hand-made multipart `body` to the in-process `app`.
async fn upload_body(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/videos", app.base))
        .bearer_auth(&app.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn text_part(name: &str, value: &str) -> String {
    format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
}

#[tokio::test]
async fn a_form_with_more_parts_than_the_upload_needs_is_refused() {
    let app = spawn_app_with(&[]).await;
    // The four fields of the form, then parts it has no use for: the
    // reader refuses the fifth before it reads that part's headers.
    let mut body = text_part("title", "many parts") + &text_part("visibility", "public");
    body.push_str(&text_part("downloads", "false"));
    body.push_str(&text_part("file", "not really a video"));
    for _ in 0..20 {
        body.push_str(&text_part("extra", "x"));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    let (status, answer) = upload_body(&app, body.into_bytes()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("too_many_parts"))
    );
    assert_eq!(videos(&app.base, &app.token).await, serde_json::json!([]));
    assert_eq!(masters_in(app.data_dir.path()), 0, "the file part was kept");
}

#[tokio::test]
async fn an_oversized_title_field_is_refused() {
    let app = spawn_app_with(&[]).await;
    let mut body = text_part("title", &"t".repeat(1024 * 1024));
    body.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.mp4\"\r\n\r\nxx\r\n--{BOUNDARY}--\r\n"
    ));
    let (status, answer) = upload_body(&app, body.into_bytes()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("field_too_large"))
    );
}

#[tokio::test]
async fn a_1_mib_json_body_is_413_with_the_error_body() {
    let app = spawn_app_with(&[]).await;
    let padding = "p".repeat(1024 * 1024);
    let response = app
        .client
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({"email": "big@example.test", "password": padding, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
    assert!(body["message"].is_string(), "{body}");
}

#[tokio::test]
async fn an_oversized_form_to_the_token_endpoint_is_413() {
    let app = spawn_app_with(&[]).await;
    let padding = "p".repeat(64 * 1024);
    let response = app
        .client
        .post(format!("{}/api/v1/auth/token", app.base))
        .form(&[
            ("grant_type", "password"),
            ("username", "someone@example.test"),
            ("password", padding.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
    assert!(body["message"].is_string(), "{body}");
}
