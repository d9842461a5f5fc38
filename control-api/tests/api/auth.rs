//! The token endpoint, bearer authentication and `/users/me`.

use crate::helpers::{error_code, spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use goflix_shared::token::{Operation, Role, TokenIssuer, TokenVerifier};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn password_grant_issues_bearer_tokens() {
    let app = spawn_app().await;
    let asked = unix_now();
    let response = app
        .token_request(&[
            ("grant_type", "password"),
            ("username", "ROOT@example.com"),
            ("password", ADMIN_PASSWORD),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);
    let token = body["access_token"].as_str().unwrap();
    // The token itself ends fifteen minutes after it was issued, and
    // `expires_in` says when (expiry times are whole seconds).
    let answered = unix_now();
    let expires_at = TokenVerifier::load(&app.data.path().join("token.pub"))
        .unwrap()
        .verify_access(token, Operation::Api)
        .unwrap()
        .expires_at
        .timestamp();
    assert!(
        (asked + 900..=answered + 900).contains(&expires_at),
        "expires at {expires_at}, asked at {asked}"
    );
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(
        (expires_at - answered - 1..=expires_at - asked).contains(&expires_in),
        "expires_in {expires_in} for a token expiring at {expires_at}"
    );
    let me: Value = app
        .get(Some(token), "/users/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_error() {
    let app = spawn_app().await;
    let mut bodies = Vec::new();
    for (user, password) in [
        (ADMIN_EMAIL, "not-the-password"),
        ("nobody@example.com", ADMIN_PASSWORD),
    ] {
        let response = app
            .token_request(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn malformed_token_requests_get_rfc6749_errors() {
    let app = spawn_app().await;
    for (form, error) in [
        (
            vec![("grant_type", "authorization_code")],
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "password"), ("username", ADMIN_EMAIL)],
            "invalid_request",
        ),
        (vec![("username", ADMIN_EMAIL)], "invalid_request"),
    ] {
        let response = app.token_request(&form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "for {form:?}");
    }
    let response = app
        .client
        .post(app.url("/auth/token"))
        .json(&serde_json::json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_work_once() {
    let app = spawn_app().await;
    let session = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let refresh = session["refresh_token"].as_str().unwrap();
    let response = app
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let renewed: Value = response.json().await.unwrap();
    assert_ne!(renewed["refresh_token"], session["refresh_token"]);
    let token = renewed["access_token"].as_str().unwrap();
    assert_eq!(
        app.get(Some(token), "/users/me").await.status(),
        StatusCode::OK
    );
    let reused = app
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let body: Value = reused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn anonymous_requests_get_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let id = goflix_shared::domain::VideoId::new();
    let requests = [
        app.client.get(app.url("/users/me")),
        app.client.get(app.url("/videos")),
        // `GET /videos/{id}` answers anonymous requests (console::anonymous_*).
        app.client.get(app.url("/events")),
        app.client
            .post(app.url(&format!("/videos/{id}/playback-token"))),
        app.client
            .post(app.url("/videos"))
            .multipart(crate::helpers::TestApp::form(
                Some("t"),
                None,
                Some(b"x".to_vec()),
            )),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "missing_token"
        );
    }
    assert_eq!(app.stored_masters(), 0);
}

#[tokio::test]
async fn tampered_foreign_and_expired_tokens_get_401() {
    let app = spawn_app().await;
    let token = app.user_token(Role::Viewer).await;
    let mut tampered = token.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let response = app.get(Some(&tampered), "/users/me").await;
    assert_eq!(
        error_code(response, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );

    let other = tempfile::tempdir().unwrap();
    let foreign = TokenIssuer::load_or_generate(&other.path().join("k"), &other.path().join("p"))
        .unwrap()
        .issue_access(uuid::Uuid::new_v4(), Role::Admin, Duration::from_secs(60))
        .unwrap();
    let response = app.get(Some(&foreign), "/users/me").await;
    assert_eq!(
        error_code(response, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );

    // Same key as the server, but already expired.
    let issuer = TokenIssuer::load_or_generate(
        &app.data.path().join("token.key"),
        &app.data.path().join("token.pub"),
    )
    .unwrap();
    let me: Value = app
        .get(Some(&token), "/users/me")
        .await
        .json()
        .await
        .unwrap();
    let expired = issuer
        .issue_access(
            me["id"].as_str().unwrap().parse().unwrap(),
            Role::Viewer,
            Duration::ZERO,
        )
        .unwrap();
    let response = app.get(Some(&expired), "/users/me").await;
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(
        error_code(response, StatusCode::UNAUTHORIZED).await,
        "token_expired"
    );

    let response = app
        .client
        .get(app.url("/users/me"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
}

#[tokio::test]
async fn openapi_document_describes_the_routes_and_unknown_routes_are_json_404() {
    let app = spawn_app().await;
    let response = app.get(None, "/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/auth/token",
        "/users/me",
        "/videos",
        "/videos/{id}",
        "/videos/{id}/playback-token",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    let response = app.get(None, "/nope").await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let response = app.client.put(app.url("/videos")).send().await.unwrap();
    assert_eq!(
        error_code(response, StatusCode::METHOD_NOT_ALLOWED).await,
        "method_not_allowed"
    );
}

#[tokio::test]
async fn first_start_without_credentials_generates_an_admin_once() {
    use goflix_control_api::ControlPlane;
    use goflix_shared::config::Config;
    use goflix_shared::events::MemoryBus;
    use goflix_shared::store::Store;
    use std::sync::Arc;

    let data = tempfile::tempdir().unwrap();
    let config = Config::from_vars([(
        "GOFLIX_DATA_DIR".to_string(),
        data.path().display().to_string(),
    )])
    .unwrap();
    let db = goflix_control_api::connect(config.database.connection_url(), config.database_pool)
        .await
        .unwrap();
    goflix_control_api::migrate(&db).await.unwrap();
    let store = Store::open(&config.storage).await.unwrap();
    let credentials = data.path().join("admin-credentials.txt");
    ControlPlane::start(
        &config,
        db.clone(),
        store.clone(),
        Arc::new(MemoryBus::default()),
    )
    .await
    .unwrap();
    let first = std::fs::read_to_string(&credentials).unwrap();
    let (email, password) = first
        .trim()
        .strip_prefix("admin: ")
        .unwrap()
        .split_once(" / ")
        .unwrap();
    assert_eq!(email, "admin@localhost");
    assert!(password.len() >= 20);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credentials)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An admin exists now: a second start creates none and leaves the file alone.
    ControlPlane::start(&config, db, store, Arc::new(MemoryBus::default()))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&credentials).unwrap(), first);
}

/// Now, in whole seconds since the epoch.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
