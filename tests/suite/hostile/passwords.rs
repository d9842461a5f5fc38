//! Password hashing as a resource attack: anonymous logins and password
//! resets must not make a server hash without bound. Argon2id takes 19 MiB
//! per hash, so unbounded parallel logins exhaust a pod's memory; hashing
//! runs in a few slots, excess requests are answered 503 with
//! `Retry-After`, and a reset with a bad token is refused before hashing.

use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::hostile::serve_process::{ServeProcess, SERIAL};
use reqwest::StatusCode;
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

/// Parallel anonymous logins, each from an address of its own.
const LOGINS: usize = 100;
/// The most the server's peak resident set may grow under them.
const MEMORY_BUDGET_MIB: f64 = 64.0;

/// A client whose requests come from `address` (all of 127/8 is loopback).
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A wrong password for an account that does not exist, from `client`.
async fn random_login(
    client: reqwest::Client,
    base: String,
) -> (StatusCode, Option<String>, Value) {
    let username = format!("{}@example.test", uuid::Uuid::new_v4());
    let response = client
        .post(format!("{base}/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", username.as_str()),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

/// The value of the unlabelled counter `name` on `base`'s `/metrics`.
async fn counter(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_hundred_parallel_logins_stay_within_the_memory_budget() {
    let _serial = SERIAL.lock().await;
    let mut server = ServeProcess::start(&[]).await;
    // One login first, so start-up work is not counted as the attack's.
    server.admin_token().await;
    let baseline = server.status_kib("VmRSS");
    server.reset_peak();

    let logins = (0..LOGINS).map(|i| {
        let client = client_from(&format!("127.0.0.{}", 10 + i));
        random_login(client, server.base.clone())
    });
    let answers = futures_util::future::join_all(logins).await;
    let growth = server.peak_growth_mib(baseline);

    let mut busy = 0;
    for (status, retry_after, body) in &answers {
        match *status {
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
                assert_eq!(body["error"], "invalid_grant", "{body}")
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                let wait: u64 = retry_after
                    .as_deref()
                    .expect("503 without Retry-After")
                    .parse()
                    .unwrap();
                assert!(wait >= 1, "{body}");
                busy += 1;
            }
            other => panic!("a login was answered {other}: {body}"),
        }
    }
    assert!(
        growth < MEMORY_BUDGET_MIB,
        "peak RSS grew by {growth:.0} MiB over {LOGINS} parallel logins ({busy} answered 503)"
    );
    assert!(server.is_running(), "{}", server.log_text());
    eprintln!("{LOGINS} parallel logins: peak RSS +{growth:.1} MiB, {busy} answered 503");

    // The owner signs in afterwards.
    let owner = client_from("127.0.0.3");
    crate::common::login(&owner, &server.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn a_reset_with_an_invalid_token_is_refused_without_hashing() {
    let server = ServeProcess::start(&[]).await;
    let before = counter(&server.base, "goflix_password_hashes_total").await;
    let client = reqwest::Client::new();
    for token in ["not-a-token", &"ab".repeat(32)] {
        let response = client
            .post(format!("{}/api/v1/auth/password-reset", server.base))
            .json(&serde_json::json!({"token": token, "password": "a brand new password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_token", "{body}");
    }
    assert_eq!(
        counter(&server.base, "goflix_password_hashes_total").await,
        before,
        "a reset with an invalid token hashed its new password"
    );
    // The counter does count: a sign-in hashes once.
    server.admin_token().await;
    assert_eq!(
        counter(&server.base, "goflix_password_hashes_total").await,
        before + 1.0
    );
}
