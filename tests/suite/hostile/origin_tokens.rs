//! The origin takes playback tokens only, and they die with what they were
//! issued in: after a logout (RFC 7009 revocation of the session's refresh
//! token) that session's playback token is refused at the origin within
//! 5 s while another session of the same user plays on; after a password
//! change and after a demotion, the user's playback tokens are refused
//! within 5 s — in `goflix serve` and against a separate `goflix origin`
//! process that has nothing but storage and the public key. A token sent in
//! the `Authorization` header is never written into manifest URIs.

use crate::common::cluster::Cluster;
use crate::common::{clip, password_grant, spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Longest wait for a transcode.
const PATIENCE: Duration = Duration::from_secs(300);
/// How soon after a revocation the origin must refuse its tokens.
const TAKES_EFFECT_WITHIN: Duration = Duration::from_secs(5);

/// One sign-in: its access token and the refresh token that ends it.
struct Session {
    access: String,
    refresh: String,
}

/// Signs in with the `password` grant.
async fn sign_in(client: &reqwest::Client, base: &str, email: &str, password: &str) -> Session {
    let body = password_grant(client, base, email, password).await;
    Session {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// Logs `session` out: RFC 7009 revocation of its refresh token.
async fn log_out(client: &reqwest::Client, base: &str, session: &Session) {
    let response = client
        .post(format!("{base}/api/v1/auth/revoke"))
        .form(&[
            ("token", session.refresh.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// A playback token for video `id`, asked for with `access`.
async fn playback_token(client: &reqwest::Client, base: &str, access: &str, id: &str) -> String {
    let response = client
        .post(format!("{base}/api/v1/videos/{id}/playback-token"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "playback token for {id}");
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// The status of the origin's HLS master of `id` for `token` (`?token=`).
async fn master_status(client: &reqwest::Client, origin: &str, id: &str, token: &str) -> u16 {
    client
        .get(format!("{origin}/v/{id}/master.m3u8"))
        .query(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls until the origin refuses `token` (403); returns how long it took.
async fn refused_within(
    client: &reqwest::Client,
    origin: &str,
    id: &str,
    token: &str,
    what: &str,
) -> Duration {
    let started = Instant::now();
    loop {
        match master_status(client, origin, id, token).await {
            403 => return started.elapsed(),
            200 => {}
            other => panic!("{what}: the origin answered {other}"),
        }
        assert!(
            started.elapsed() < TAKES_EFFECT_WITHIN,
            "{what}: the token still plays after {TAKES_EFFECT_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until the origin plays `token` (the visibility change reached it).
async fn plays_within(client: &reqwest::Client, origin: &str, id: &str, token: &str) {
    let started = Instant::now();
    while master_status(client, origin, id, token).await != 200 {
        assert!(
            started.elapsed() < TAKES_EFFECT_WITHIN,
            "a fresh playback token does not play"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A short private clip uploaded by the admin, ready.
async fn private_video(app: &TestApp) -> String {
    let dir = tempfile::tempdir().unwrap();
    let source = clip(dir.path(), "source.mp4", "320x240", 2, false);
    let (status, body) = app.upload_with("private clip", &source, "private").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let video = app.wait_settled(&id, PATIENCE).await;
    assert_eq!(video["state"], "ready", "{video}");
    id
}

/// An admin changes account `id`.
async fn patch_user(app: &TestApp, id: &str, change: Value) {
    assert_eq!(app.api().patch_user(id, &change).await, 200, "{change}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_stops_that_sessions_playback_while_another_session_plays_on() {
    let app = spawn_app().await;
    let id = private_video(&app).await;
    let client = &app.client;
    let leaving = sign_in(client, &app.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let staying = sign_in(client, &app.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let leaving_token = playback_token(client, &app.base, &leaving.access, &id).await;
    let staying_token = playback_token(client, &app.base, &staying.access, &id).await;
    assert_eq!(
        master_status(client, &app.base, &id, &leaving_token).await,
        200
    );

    log_out(client, &app.base, &leaving).await;
    let took = refused_within(client, &app.base, &id, &leaving_token, "after a logout").await;
    eprintln!("logged-out session refused after {took:?}");
    assert_eq!(
        master_status(client, &app.base, &id, &staying_token).await,
        200,
        "another session of the same user plays on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_and_a_demotion_stop_the_users_playback() {
    let app = spawn_app().await;
    let id = private_video(&app).await;
    let client = &app.client;
    let (email, first, second) = (
        "second-admin@example.test",
        "first long passphrase of the second admin",
        "second long passphrase of the second admin",
    );
    let response = client
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .json(&json!({ "email": email, "password": first, "role": "admin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let user: Value = response.json().await.unwrap();
    let user_id = user["id"].as_str().unwrap();
    let others = playback_token(client, &app.base, &app.token, &id).await;

    let session = sign_in(client, &app.base, email, first).await;
    let token = playback_token(client, &app.base, &session.access, &id).await;
    assert_eq!(master_status(client, &app.base, &id, &token).await, 200);
    patch_user(&app, user_id, json!({ "password": second })).await;
    let took = refused_within(client, &app.base, &id, &token, "after a password change").await;
    eprintln!("token from before the password change refused after {took:?}");
    assert_eq!(
        master_status(client, &app.base, &id, &others).await,
        200,
        "another user's token plays on"
    );

    // Issue times are whole seconds: sign in again in the next one, and the
    // new password's token plays until the demotion.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let session = sign_in(client, &app.base, email, second).await;
    let token = playback_token(client, &app.base, &session.access, &id).await;
    assert_eq!(master_status(client, &app.base, &id, &token).await, 200);
    patch_user(&app, user_id, json!({ "role": "uploader" })).await;
    let took = refused_within(client, &app.base, &id, &token, "after a demotion").await;
    eprintln!("token from before the demotion refused after {took:?}");
    assert_eq!(master_status(client, &app.base, &id, &others).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_playback_token_is_never_written_into_manifest_uris() {
    let app = spawn_app().await;
    let id = private_video(&app).await;
    let token = playback_token(&app.client, &app.base, &app.token, &id).await;
    let get = |path: String| {
        app.client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&token)
            .send()
    };
    let master = get(format!("/v/{id}/master.m3u8")).await.unwrap();
    assert_eq!(master.status(), 200);
    let master = master.text().await.unwrap();
    let media = master
        .lines()
        .find(|line| !line.starts_with('#') && !line.trim().is_empty())
        .expect("the master names a media playlist")
        .to_owned();
    let playlist = get(format!("/v/{id}/{media}")).await.unwrap();
    assert_eq!(playlist.status(), 200);
    let playlist = playlist.text().await.unwrap();
    for (name, body) in [("master", &master), ("media playlist", &playlist)] {
        assert!(
            !body.contains("token=") && !body.contains(&token),
            "the {name} carries the header's token: {body}"
        );
    }
    // A `?token=` token is what segment requests carry, so it is written in.
    let carried = app
        .client
        .get(format!("{}/v/{id}/master.m3u8", app.base))
        .query(&[("token", &token)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(carried.contains("token="), "{carried}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_separate_origin_refuses_a_logged_out_sessions_token() {
    let mut cluster = Cluster::new().await;
    let amqp = cluster.amqp_url.clone();
    cluster.start_control(&amqp).await;
    cluster.start_worker().await;
    // The origin has the storage and the public key, nothing else.
    let public_key = cluster.dir.path().join("control-api").join("token.pub");
    cluster.set_env(
        "GOFLIX_TOKEN_PUBLIC_KEY_FILE",
        public_key.display().to_string(),
    );
    let origin = cluster.start_origin().await;

    let dir = tempfile::tempdir().unwrap();
    let id = cluster
        .upload("clip", &clip(dir.path(), "source.mp4", "320x240", 2, false))
        .await;
    let video = cluster.wait_settled(&id, PATIENCE).await;
    assert_eq!(video["state"], "ready", "{video}");
    let client = &cluster.client;
    let response = client
        .patch(format!("{}/api/v1/videos/{id}", cluster.base))
        .bearer_auth(cluster.token())
        .json(&json!({ "visibility": "private" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let leaving = sign_in(client, &cluster.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let leaving_token = playback_token(client, &cluster.base, &leaving.access, &id).await;
    let staying_token = playback_token(client, &cluster.base, cluster.token(), &id).await;
    plays_within(client, &origin, &id, &leaving_token).await;

    log_out(client, &cluster.base, &leaving).await;
    let took = refused_within(client, &origin, &id, &leaving_token, "separate origin").await;
    eprintln!("separate origin refused the logged-out session after {took:?}");
    assert_eq!(
        master_status(client, &origin, &id, &staying_token).await,
        200
    );
}
