//! Smaller holes (issue 12, item 9): server-side fetches that an
//! `HTTP(S)_PROXY` would route past the SSRF guard, the last-admin guard
//! under concurrent demotions, and an open sign-up that would tell which
//! e-mails have accounts.

use crate::common::{login, spawn_app_with, Api, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::hostile::serve_process::ServeProcess;
use goflix_testkit::postgres::TestDatabase;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How long a webhook delivery may take to arrive.
const DELIVERY_PATIENCE: Duration = Duration::from_secs(60);

/// A listener that only counts the connections it is offered (the proxy
/// a hostile environment points `HTTP(S)_PROXY` at).
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, connections)
}

/// A minimal HTTP receiver answering 200 to everything; sends the request
/// line of each request it gets.
async fn webhook_receiver() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let _ = tx.send(text.lines().next().unwrap_or_default().to_owned());
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, rx)
}

/// Uploads bytes that are no video, so the video fails (and notifies) at once.
async fn upload_garbage(client: &reqwest::Client, base: &str, token: &str) -> String {
    let garbage: Vec<u8> = (0..16 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let form = reqwest::multipart::Form::new()
        .text("title", "not a video")
        .part(
            "file",
            reqwest::multipart::Part::bytes(garbage).file_name("garbage.mp4"),
        );
    let response = client
        .post(format!("{base}/api/v1/videos"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_ignore_proxies_from_the_environment() {
    let (proxy_port, proxy_connections) = counting_listener().await;
    let (receiver_port, mut deliveries) = webhook_receiver().await;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let server = ServeProcess::start(&[
        ("HTTP_PROXY", proxy.as_str()),
        ("HTTPS_PROXY", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("https_proxy", proxy.as_str()),
        ("all_proxy", proxy.as_str()),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
        ("GOFLIX_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("GOFLIX_NOTIFY_RETRY_MAX_SECONDS", "1"),
    ])
    .await;
    let client = reqwest::Client::new();
    let token = server.admin_token().await;
    let response = client
        .post(format!("{}/api/v1/webhooks", server.base))
        .bearer_auth(&token)
        .json(&json!({
            "url": format!("http://127.0.0.1:{receiver_port}/hook"),
            "events": ["video.failed"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    upload_garbage(&client, &server.base, &token).await;
    let request_line = tokio::time::timeout(DELIVERY_PATIENCE, deliveries.recv())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no delivery reached the receiver (the proxy saw {} connections); log: {}",
                proxy_connections.load(Ordering::SeqCst),
                server.log_text()
            )
        })
        .unwrap();
    assert_eq!(request_line, "POST /hook HTTP/1.1");
    assert_eq!(
        proxy_connections.load(Ordering::SeqCst),
        0,
        "a delivery went through the proxy"
    );
}

/// Rounds of the concurrent-demotion race.
const DEMOTION_ROUNDS: usize = 25;
/// Password of the second admin.
const SECOND_ADMIN_PASSWORD: &str = "second admin's long passphrase";

/// `PATCH /api/v1/users/{id}` with `change` as `token`; returns the status.
async fn patch_user(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    change: &Value,
) -> u16 {
    let api = Api {
        client,
        base,
        token,
    };
    api.patch_user(id, change).await
}

/// The enabled admins, as listed with `token` (none when it no longer lists users).
async fn enabled_admins(client: &reqwest::Client, base: &str, token: &str) -> Vec<String> {
    let response = client
        .get(format!("{base}/api/v1/users?limit=200"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return Vec::new();
    }
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|user| user["role"] == "admin" && user["disabled"] == false)
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The warning and error lines of `server`'s log.
fn server_errors(server: &ServeProcess) -> String {
    server
        .log_text()
        .lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Two admins demote (or disable) each other at the same moment, round
/// after round; after every round an enabled admin remains, who restores
/// the other. (A demoted or disabled admin's tokens stop working, so the
/// survivor is the one whose token still lists the users; one sign-in per
/// round stays within the per-address rate limit.)
async fn race_two_admins(server: &ServeProcess) {
    let base = server.base.as_str();
    let client = reqwest::Client::new();
    let first_token = login(&client, base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let first_id = Api {
        client: &client,
        base,
        token: &first_token,
    }
    .own_id()
    .await;
    let second_email = "second-admin@example.test";
    let created: Value = client
        .post(format!("{base}/api/v1/users"))
        .bearer_auth(&first_token)
        .json(&json!({ "email": second_email, "password": SECOND_ADMIN_PASSWORD, "role": "admin" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second_id = created["id"].as_str().unwrap().to_owned();
    let second_token = login(&client, base, second_email, SECOND_ADMIN_PASSWORD).await;
    let accounts = [
        (first_id, ADMIN_EMAIL, ADMIN_PASSWORD),
        (second_id, second_email, SECOND_ADMIN_PASSWORD),
    ];
    let mut tokens = [first_token, second_token];
    for round in 0..DEMOTION_ROUNDS {
        let (take_out, put_back) = if round % 2 == 0 {
            (json!({ "role": "viewer" }), json!({ "role": "admin" }))
        } else {
            (json!({ "disabled": true }), json!({ "disabled": false }))
        };
        let attempts = (0..2).flat_map(|_| {
            [
                patch_user(&client, base, &tokens[0], &accounts[1].0, &take_out),
                patch_user(&client, base, &tokens[1], &accounts[0].0, &take_out),
            ]
        });
        let statuses = futures_util::future::join_all(attempts).await;
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 401 | 403 | 409)),
            "round {round}: {statuses:?}; the server's errors:\n{}",
            server_errors(server)
        );
        let mut survivor = None;
        for (i, token) in tokens.iter().enumerate() {
            let admins = enabled_admins(&client, base, token).await;
            if admins.contains(&accounts[i].0) {
                survivor = Some(i);
                break;
            }
        }
        let survivor = survivor
            .unwrap_or_else(|| panic!("round {round}: no enabled admin is left ({statuses:?})"));
        let other = 1 - survivor;
        let (other_id, other_email, other_password) = &accounts[other];
        assert_eq!(
            patch_user(&client, base, &tokens[survivor], other_id, &put_back).await,
            200,
            "round {round}: restoring the other admin"
        );
        tokens[other] = login(&client, base, other_email, other_password).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_at_once_leave_an_admin_on_sqlite() {
    let server = ServeProcess::start(&[]).await;
    race_two_admins(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_at_once_leave_an_admin_on_postgres() {
    let database = TestDatabase::create().await;
    let url = database.url();
    let server = ServeProcess::start(&[("GOFLIX_DATABASE_URL", url.as_str())]).await;
    race_two_admins(&server).await;
    // The server stops before its database is dropped.
    drop(server);
    drop(database);
}

/// An open sign-up's answer: status and body.
async fn sign_up(app: &crate::common::TestApp, email: &str, password: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/users", app.base))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn open_sign_up_does_not_tell_which_addresses_have_accounts() {
    let app = spawn_app_with(&[("GOFLIX_SIGNUP", "open")]).await;
    let attacker_password = "an attacker's long passphrase";
    let started = Instant::now();
    let free = sign_up(&app, "newcomer@example.test", attacker_password).await;
    let free_took = started.elapsed();
    let started = Instant::now();
    let taken = sign_up(&app, ADMIN_EMAIL, attacker_password).await;
    let taken_took = started.elapsed();
    let taken_again = sign_up(&app, "NEWCOMER@example.test", attacker_password).await;
    assert_eq!(free.0, 202, "{free:?}");
    assert_eq!(
        taken, free,
        "taken after {taken_took:?}, free after {free_took:?}"
    );
    assert_eq!(taken_again, free);
    // The taken account is untouched: its own password still signs in.
    login(&app.client, &app.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
}
