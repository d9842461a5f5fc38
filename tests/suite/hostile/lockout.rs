//! Locking an owner out of their account with wrong passwords. Failures
//! are throttled per (account, client address): the failing address is
//! refused for that account only, the owner from an address that has not
//! failed still signs in, and failures spread over many addresses slow
//! sign-in by at most 2 s but never refuse it. The test that spreads
//! failures over many addresses floods the hashing slots, so it runs
//! against a `goflix serve` process of its own, not the shared test process.

use crate::common::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::hostile::serve_process::ServeProcess;
use reqwest::StatusCode;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The most a sign-in may be slowed by the account's failures elsewhere.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// A client whose requests come from `address` (all of 127/8 is loopback).
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A password login from `client`: its status and `Retry-After`.
async fn sign_in(
    base: &str,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> (StatusCode, Option<u64>) {
    let response = client
        .post(format!("{base}/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status(), retry_after)
}

/// A second account, created by the admin.
async fn create_viewer(app: &TestApp, email: &str, password: &str) {
    let response = app
        .client
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// `wrong` failed logins for the admin from `attacker`; every answer is a
/// plain failure, a 429 or a 503 (hashing slots busy with other tests'
/// logins) with `Retry-After`, and the last ones are 429.
async fn fail_repeatedly(app: &TestApp, attacker: &reqwest::Client, wrong: usize) {
    let mut answers = Vec::new();
    for _ in 0..wrong {
        answers.push(sign_in(&app.base, attacker, ADMIN_EMAIL, "not the password").await);
    }
    for (status, retry_after) in &answers {
        match *status {
            StatusCode::BAD_REQUEST => {}
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after.unwrap() >= 1)
            }
            other => panic!("a wrong password was answered {other}: {answers:?}"),
        }
    }
    assert_eq!(
        answers.last().unwrap().0,
        StatusCode::TOO_MANY_REQUESTS,
        "{wrong} wrong passwords from one address were never throttled: {answers:?}"
    );
    // Even the right password waits at that address, for that account.
    let (status, retry_after) = sign_in(&app.base, attacker, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.unwrap() >= 1);
}

/// Signs the admin in from `address` and says how long it took.
async fn owner_signs_in(base: &str, address: &str) -> Duration {
    let started = Instant::now();
    let (status, _) = sign_in(base, &client_from(address), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the owner was refused from {address}"
    );
    started.elapsed()
}

async fn throttled_address_locks_out_only_itself(wrong: usize) {
    let app = spawn_app().await;
    create_viewer(&app, "bystander@example.test", "bystander password").await;
    let usual = owner_signs_in(&app.base, "127.0.0.3").await;

    fail_repeatedly(&app, &client_from("127.0.0.2"), wrong).await;

    // The owner, from an address that has not failed, gets in at once.
    let took = owner_signs_in(&app.base, "127.0.0.3").await;
    assert!(took <= usual + MAX_DELAY, "{took:?} against {usual:?}");
    // Another account is unaffected at the throttled address.
    let (status, _) = sign_in(
        &app.base,
        &client_from("127.0.0.2"),
        "bystander@example.test",
        "bystander password",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn twelve_wrong_passwords_throttle_that_address_only() {
    throttled_address_locks_out_only_itself(12).await;
}

#[tokio::test]
async fn fifty_wrong_passwords_throttle_that_address_only() {
    throttled_address_locks_out_only_itself(50).await;
}

#[tokio::test]
async fn failures_from_many_addresses_slow_sign_in_but_never_refuse_it() {
    let server = ServeProcess::start(&[]).await;
    let usual = owner_signs_in(&server.base, "127.0.2.1").await;
    // Forty addresses, three wrong passwords each, ten addresses at a time.
    let attackers: Vec<reqwest::Client> = (0..40)
        .map(|i| client_from(&format!("127.0.1.{}", 10 + i)))
        .collect();
    let mut failed = 0;
    for wave in attackers.chunks(10) {
        for _ in 0..3 {
            let answers =
                futures_util::future::join_all(wave.iter().map(|attacker| {
                    sign_in(&server.base, attacker, ADMIN_EMAIL, "not the password")
                }))
                .await;
            for (status, _) in answers {
                match status {
                    StatusCode::BAD_REQUEST => failed += 1,
                    // Hashing slots busy: refused before any password was checked.
                    StatusCode::SERVICE_UNAVAILABLE => {}
                    other => panic!("a wrong password was answered {other}"),
                }
            }
        }
    }
    assert!(failed >= 30, "only {failed} attempts were checked");

    // The owner from a fresh address: slowed by at most the delay, never refused.
    for fresh in ["127.0.2.2", "127.0.2.3"] {
        let took = owner_signs_in(&server.base, fresh).await;
        assert!(
            took <= usual + MAX_DELAY + Duration::from_millis(500),
            "{took:?} against {usual:?}"
        );
    }
}
