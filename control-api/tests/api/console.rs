//! What the web console needs of the API: the caller's event stream
//! (`GET /events`), title search (`GET /videos?q=`, on SQLite and
//! PostgreSQL) and anonymous reads of public and unlisted videos.

use crate::helpers::{error_code, spawn_app, spawn_app_on, Backend, TestApp};
use futures_util::StreamExt;
use goflix_shared::domain::VideoId;
use goflix_shared::events::EventKind;
use goflix_shared::token::{Role, TokenIssuer};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// The titles `GET /videos?q=` (URL-encoded by the client) lists for `token`.
async fn found(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let response = app
        .client
        .get(app.url("/videos"))
        .query(&[("q", q), ("limit", "100")])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    let mut titles: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

async fn search_finds_substrings_case_insensitively_and_literally(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let uploader = app.user_token(Role::Uploader).await;
    let other = app.user_token(Role::Uploader).await;
    for title in ["Holiday in Rome", "ROMAN roads", "100% rome", "a_b", "axb"] {
        app.upload(&uploader, title, "public", vec![1]).await;
    }
    app.upload(&other, "Rome by night", "public", vec![1]).await;

    assert_eq!(
        found(&app, &uploader, "rOm").await,
        ["100% rome", "Holiday in Rome", "ROMAN roads"]
    );
    assert_eq!(found(&app, &uploader, "%").await, ["100% rome"]);
    assert_eq!(found(&app, &uploader, "a_b").await, ["a_b"]);
    assert_eq!(found(&app, &uploader, "\\").await, Vec::<String>::new());
    assert_eq!(found(&app, &uploader, "").await.len(), 5);
    // Search keeps the caller's scope: another uploader's videos stay out.
    assert_eq!(found(&app, &other, "rome").await, ["Rome by night"]);

    let page: Value = app
        .client
        .get(app.url("/videos?q=ROME&limit=1"))
        .bearer_auth(&uploader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_offset"], 1);

    let long = "x".repeat(201);
    let response = app.get(Some(&uploader), &format!("/videos?q={long}")).await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_query"
    );
    let response = app
        .get(Some(&uploader), &format!("/videos?q={}", "é".repeat(200)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

mod search {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        super::search_finds_substrings_case_insensitively_and_literally(super::Backend::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        super::search_finds_substrings_case_insensitively_and_literally(super::Backend::Postgres)
            .await;
    }
}

#[tokio::test]
async fn anonymous_requests_read_public_and_unlisted_videos_only() {
    let app = spawn_app().await;
    let uploader = app.user_token(Role::Uploader).await;
    let public = app.upload(&uploader, "open", "public", vec![1]).await;
    let unlisted = app.upload(&uploader, "link", "unlisted", vec![1]).await;
    let private = app.upload(&uploader, "mine", "private", vec![1]).await;

    for id in [public, unlisted] {
        let response = app.get(None, &format!("/videos/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let video: Value = response.json().await.unwrap();
        assert_eq!(video["id"], id.to_string());
        assert_eq!(video["state"], "queued");
    }
    for id in [private, VideoId(uuid::Uuid::new_v4())] {
        let response = app.get(None, &format!("/videos/{id}")).await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found"
        );
    }
    // A header that is there but not a good bearer token is refused, never anonymous.
    for header in ["Bearer not-a-token", "Basic dXNlcjpwYXNz"] {
        let response = app
            .client
            .get(app.url(&format!("/videos/{public}")))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
    }
    // The owner still reads the private one.
    assert_eq!(app.video(&uploader, private).await["title"], "mine");
}

/// Reads the stream until `done` holds for the SSE text received so far;
/// fails after `limit`. Returns the text.
async fn read_until(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    while !done(&text) {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(chunk)) => text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap()),
            Ok(None) => break,
            Err(_) => panic!("not done after {limit:?}: {text}"),
        }
    }
    text
}

async fn open_stream(
    app: &TestApp,
    token: &str,
) -> impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin {
    let response = app.get(Some(token), "/events").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.bytes_stream()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_stream_carries_the_events_of_the_videos_it_may_list() {
    let app = spawn_app().await;
    let alice = app.user_token(Role::Uploader).await;
    let bob = app.user_token(Role::Uploader).await;
    let viewer = app.user_token(Role::Viewer).await;
    let admin = app.admin_token().await;
    let mut alice_events = open_stream(&app, &alice).await;
    let mut viewer_events = open_stream(&app, &viewer).await;
    let mut admin_events = open_stream(&app, &admin).await;
    let opened = read_until(&mut alice_events, Duration::from_secs(5), |t| {
        t.contains("\n\n")
    })
    .await;
    assert!(opened.starts_with("retry: 3000\n\n"), "{opened}");

    // Both videos are made after the streams opened.
    let bobs = app.upload(&bob, "bob's", "private", vec![1]).await;
    let alices = app.upload(&alice, "alice's", "public", vec![1]).await;
    app.publish(bobs, EventKind::Processing { attempt: 1 })
        .await;
    app.publish(alices, EventKind::Processing { attempt: 1 })
        .await;
    app.publish(alices, EventKind::Progress { progress: 0.5 })
        .await;

    let alice_saw = read_until(&mut alice_events, Duration::from_secs(10), |t| {
        t.contains("event: video.progress")
    })
    .await;
    assert!(
        alice_saw.contains(&format!(
            "event: video.processing\ndata: {{\"video_id\":\"{alices}\""
        )),
        "{alice_saw}"
    );
    assert!(!alice_saw.contains(&bobs.to_string()), "{alice_saw}");
    let message = alice_saw
        .split("\n\n")
        .find(|m| m.starts_with("event: video.progress"))
        .unwrap();
    let data: Value = serde_json::from_str(message.split_once("data: ").unwrap().1).unwrap();
    assert_eq!(data["type"], "video.progress");
    assert_eq!(data["progress"], 0.5);

    // The viewer sees the public video's events, not the private one's.
    let viewer_saw = read_until(&mut viewer_events, Duration::from_secs(10), |t| {
        t.contains("event: video.progress")
    })
    .await;
    assert!(viewer_saw.contains(&alices.to_string()), "{viewer_saw}");
    assert!(!viewer_saw.contains(&bobs.to_string()), "{viewer_saw}");
    // The admin sees both.
    let admin_saw = read_until(&mut admin_events, Duration::from_secs(10), |t| {
        t.contains("event: video.progress")
    })
    .await;
    assert!(admin_saw.contains(&bobs.to_string()), "{admin_saw}");

    // A video made private stops reaching the viewer.
    let response = app
        .client
        .patch(app.url(&format!("/videos/{alices}")))
        .bearer_auth(&alice)
        .json(&serde_json::json!({ "visibility": "private" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.publish(alices, EventKind::Progress { progress: 0.75 })
        .await;
    let marker = app.upload(&alice, "marker", "public", vec![1]).await;
    app.publish(marker, EventKind::Processing { attempt: 1 })
        .await;
    let viewer_saw = read_until(&mut viewer_events, Duration::from_secs(10), |t| {
        t.contains(&marker.to_string())
    })
    .await;
    assert!(!viewer_saw.contains("0.75"), "{viewer_saw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_stream_keeps_alive_and_ends_when_its_token_expires() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let me: Value = app
        .get(Some(&admin), "/users/me")
        .await
        .json()
        .await
        .unwrap();
    let issuer = TokenIssuer::load_or_generate(
        &app.data.path().join("token.key"),
        &app.data.path().join("token.pub"),
    )
    .unwrap();
    let short = issuer
        .issue_access(
            me["id"].as_str().unwrap().parse().unwrap(),
            Role::Admin,
            Duration::from_secs(17),
        )
        .unwrap();
    let mut events = open_stream(&app, &short).await;
    let started = tokio::time::Instant::now();
    let text = read_until(&mut events, Duration::from_secs(25), |_| false).await;
    assert_eq!(text, "retry: 3000\n\n: keep-alive\n\n");
    assert!(
        started.elapsed() < Duration::from_secs(19),
        "ended after {:?}",
        started.elapsed()
    );
}
