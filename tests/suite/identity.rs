//! Identity against a real `goflix serve`: refresh-token rotation and reuse
//! detection, revocation on the next request, introspection, service
//! clients, refused tokens (expired, tampered, another key, upload-only),
//! single-use upload tokens, user management, sign-up, e-mail verification
//! and password reset (tokens read from the notification rows, since
//! delivering mail is the notification module's job), and rate limits.

use crate::common::{spawn_app, spawn_app_with, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use goflix_shared::token::{Operation, Role, TokenIssuer, TokenVerifier};
use goflix_testkit::postgres::TestDatabase;
use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PASSWORD: &str = "user-password-123";
/// How long an access token lasts (seconds).
const ACCESS_LIFETIME: i64 = 15 * 60;
/// How long an upload token lasts at most (seconds).
const UPLOAD_LIFETIME: i64 = 10 * 60;

/// The current Unix time in whole seconds.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// When `token` really expires (Unix seconds): verified with the server's
/// public key for `operation` and read from the token, not from an answer.
fn decoded_expiry(app: &TestApp, token: &str, operation: Operation) -> i64 {
    TokenVerifier::load(&app.data_dir.path().join("token.pub"))
        .unwrap()
        .verify_access(token, operation)
        .unwrap()
        .expires_at
        .timestamp()
}

/// `exp` is `lifetime` seconds after a moment between the whole seconds
/// `from` and `by` (expiry times are whole seconds).
fn assert_lifetime(exp: i64, lifetime: i64, from: i64, by: i64) {
    assert!(
        (from + lifetime..=by + lifetime).contains(&exp),
        "expires at {exp}, not {lifetime} s after {from}..={by}"
    );
}

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> Response {
    app.client
        .post(format!("{}/api/v1/auth/token", app.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn password_login(app: &TestApp, email: &str, password: &str) -> Response {
    token_request(
        app,
        &[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ],
    )
    .await
}

/// Logs in and returns `(access_token, refresh_token)`.
async fn session(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let response = password_login(app, email, password).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(app: &TestApp, token: &str) -> Response {
    token_request(
        app,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// The `error` of an RFC 6749 error response, after checking its status.
async fn oauth_error(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    body["error"].as_str().unwrap().to_owned()
}

/// The `code` of an API error response, after checking its status.
async fn code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["code"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Response {
    app.client
        .get(format!("{}/api/v1{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn send_json(
    app: &TestApp,
    method: reqwest::Method,
    token: Option<&str>,
    path: &str,
    body: Value,
) -> Response {
    let mut request = app
        .client
        .request(method, format!("{}/api/v1{path}", app.base))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
    app.client
        .post(format!("{}/api/v1{path}", app.base))
        .form(form)
}

/// Creates a user through the API (as the admin) and returns their id.
async fn create_user(app: &TestApp, email: &str, role: &str) -> String {
    let response = send_json(
        app,
        reqwest::Method::POST,
        Some(&app.token),
        "/users",
        json!({ "email": email, "password": PASSWORD, "role": role }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["role"], role);
    assert_eq!(body["email_verified"], false);
    assert!(body.get("password_hash").is_none());
    body["id"].as_str().unwrap().to_owned()
}

/// The token in the newest `event` notification for the user, polled
/// because some are written after the response.
async fn mailed_token(app: &TestApp, event: &str) -> String {
    let db = Database::connect(format!(
        "sqlite://{}?mode=rwc",
        app.data_dir.path().join("goflix.db").display()
    ))
    .await
    .unwrap();
    let started = Instant::now();
    loop {
        let row = db
            .query_one(Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT payload FROM notification_jobs WHERE event = $1 ORDER BY created_at DESC LIMIT 1",
                [event.into()],
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            let payload: Value = row.try_get("", "payload").unwrap();
            return payload["token"].as_str().unwrap().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no {event} notification"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    check_rotation(&spawn_app().await).await;
}

/// Rotation, reuse detection, revocation and single-use upload tokens on
/// PostgreSQL (the other tests run on the embedded SQLite).
#[tokio::test]
async fn identity_works_on_postgresql() {
    let postgres = TestDatabase::create().await;
    let url = postgres.url();
    let app = spawn_app_with(&[("GOFLIX_DATABASE_URL", &url)]).await;
    check_rotation(&app).await;
    let (access, _) = session(&app, "rotate@example.com", PASSWORD).await;
    for _ in 0..2 {
        // Revoking twice is fine (idempotent insert).
        let response = post_form(&app, "/auth/revoke", &[("token", &access)])
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(get(&app, &access, "/users/me").await.status(), 401);
    let response = app
        .client
        .post(format!("{}/api/v1/uploads/token", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let upload: Value = response.json().await.unwrap();
    let upload = upload["token"].as_str().unwrap();
    assert_eq!(upload_with(&app, upload).await.status(), 202);
    assert_eq!(upload_with(&app, upload).await.status(), 401);
}

async fn check_rotation(app: &TestApp) {
    create_user(app, "rotate@example.com", "viewer").await;
    let (access1, refresh1) = session(app, "rotate@example.com", PASSWORD).await;

    let response = refresh(app, &refresh1).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let access2 = body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    assert_eq!(get(app, &access2, "/users/me").await.status(), 200);

    // An attacker replays the first refresh token: refused, and the whole
    // family — the legitimate successor and its access tokens — is revoked.
    assert_eq!(
        oauth_error(refresh(app, &refresh1).await, StatusCode::BAD_REQUEST).await,
        "invalid_grant"
    );
    assert_eq!(
        oauth_error(refresh(app, &refresh2).await, StatusCode::BAD_REQUEST).await,
        "invalid_grant"
    );
    for access in [&access1, &access2] {
        assert_eq!(
            code(
                get(app, access, "/users/me").await,
                StatusCode::UNAUTHORIZED
            )
            .await,
            "token_revoked"
        );
    }
    // Another login of the same user is another family and unaffected.
    let (access3, refresh3) = session(app, "rotate@example.com", PASSWORD).await;
    assert_eq!(get(app, &access3, "/users/me").await.status(), 200);
    assert_eq!(refresh(app, &refresh3).await.status(), 200);

    for garbage in ["", "nope", &"0".repeat(64), &"\u{0}".repeat(3)] {
        assert_eq!(
            oauth_error(refresh(app, garbage).await, StatusCode::BAD_REQUEST).await,
            "invalid_grant"
        );
    }
}

#[tokio::test]
async fn revocation_takes_effect_on_the_next_request() {
    let app = spawn_app().await;
    create_user(&app, "revoke@example.com", "uploader").await;

    // Revoking an access token revokes it and the family it came from.
    let (access, refresh_token) = session(&app, "revoke@example.com", PASSWORD).await;
    assert_eq!(get(&app, &access, "/users/me").await.status(), 200);
    let response = post_form(&app, "/auth/revoke", &[("token", &access)])
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        code(
            get(&app, &access, "/users/me").await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "token_revoked"
    );
    assert_eq!(
        oauth_error(refresh(&app, &refresh_token).await, StatusCode::BAD_REQUEST).await,
        "invalid_grant"
    );

    // Revoking a refresh token (logout) ends its access token too.
    let (access, refresh_token) = session(&app, "revoke@example.com", PASSWORD).await;
    let response = post_form(
        &app,
        "/auth/revoke",
        &[
            ("token", &refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        get(&app, &access, "/users/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Unknown tokens are answered 200 (RFC 7009 §2.2); a missing one is a bad request.
    for junk in ["garbage", "", "%00"] {
        let response = post_form(&app, "/auth/revoke", &[("token", junk)])
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{junk:?}");
    }
    let response = post_form(&app, "/auth/revoke", &[])
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(response, StatusCode::BAD_REQUEST).await,
        "invalid_request"
    );
}

/// Registers a client as the admin; returns `(client_id, client_secret)`.
async fn register_client(app: &TestApp, scope: &str) -> (String, String) {
    let response = send_json(
        app,
        reqwest::Method::POST,
        Some(&app.token),
        "/clients",
        json!({ "name": "catalog sync", "scope": scope }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn client_token(app: &TestApp, id: &str, secret: &str, scope: Option<&str>) -> Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    app.client
        .post(format!("{}/api/v1/auth/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn service_clients_get_scoped_tokens() {
    let app = spawn_app().await;
    let (id, secret) = register_client(&app, "videos:read videos:write").await;
    let listed: Value = get(&app, &app.token, "/clients")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["client_id"], id.as_str());
    assert!(listed["items"][0].get("client_secret").is_none());

    let response = client_token(&app, &id, &secret, None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "videos:read videos:write");
    assert!(body.get("refresh_token").is_none());
    let writer = body["access_token"].as_str().unwrap().to_owned();
    let response = app
        .client
        .post(format!("{}/api/v1/videos", app.base))
        .bearer_auth(&writer)
        .multipart(
            reqwest::multipart::Form::new()
                .text("title", "from a service")
                .part("file", reqwest::multipart::Part::bytes(vec![0u8; 64])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // Form credentials work as well as HTTP Basic; a narrower scope may be asked for.
    let response = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "videos:read"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let reader: Value = response.json().await.unwrap();
    let reader = reader["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get(&app, &reader, "/videos").await.status(), 200);
    for path in ["/users", "/users/me", "/clients"] {
        assert_eq!(get(&app, &reader, path).await.status(), 403, "{path}");
    }
    let response = app
        .client
        .post(format!("{}/api/v1/uploads/token", app.base))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Wrong secret, unknown client: the same 401 with a Basic challenge.
    for (who, what) in [(id.as_str(), "wrong"), ("gfx_unknown", secret.as_str())] {
        let response = client_token(&app, who, what, None).await;
        assert_eq!(response.status(), 401);
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"));
        assert_eq!(
            oauth_error(response, StatusCode::UNAUTHORIZED).await,
            "invalid_client"
        );
    }
    for scope in ["admin", "videos:read users:write"] {
        let response = client_token(&app, &id, &secret, Some(scope)).await;
        assert_eq!(
            oauth_error(response, StatusCode::BAD_REQUEST).await,
            "invalid_scope"
        );
    }
    let (narrow_id, narrow_secret) = register_client(&app, "videos:read").await;
    let response = client_token(&app, &narrow_id, &narrow_secret, Some("videos:write")).await;
    assert_eq!(
        oauth_error(response, StatusCode::BAD_REQUEST).await,
        "invalid_scope"
    );
    let response = send_json(
        &app,
        reqwest::Method::POST,
        Some(&app.token),
        "/clients",
        json!({ "name": "x", "scope": "root" }),
    )
    .await;
    assert_eq!(
        code(response, StatusCode::BAD_REQUEST).await,
        "invalid_scope"
    );

    // Deleting the client ends its tokens at once.
    let response = app
        .client
        .delete(format!("{}/api/v1/clients/{id}", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        get(&app, &reader, "/videos").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(client_token(&app, &id, &secret, None).await.status(), 401);
}

async fn introspect(app: &TestApp, request: reqwest::RequestBuilder, token: &str) -> Response {
    let _ = app;
    request.form(&[("token", token)]).send().await.unwrap()
}

#[tokio::test]
async fn introspection_describes_tokens_to_clients_and_admins() {
    let app = spawn_app().await;
    let user_id = create_user(&app, "seen@example.com", "viewer").await;
    let issued_from = unix_now();
    let (access, refresh_token) = session(&app, "seen@example.com", PASSWORD).await;
    let issued_by = unix_now();
    let (client_id, secret) = register_client(&app, "videos:read").await;
    let url = format!("{}/api/v1/auth/introspect", app.base);

    let as_client = || app.client.post(&url).basic_auth(&client_id, Some(&secret));
    let body: Value = introspect(&app, as_client(), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["sub"], user_id.as_str());
    assert_eq!(body["role"], "viewer");
    // `exp` is the token's own expiry, the access lifetime after sign-in.
    let exp = decoded_expiry(&app, &access, Operation::Api);
    assert_eq!(body["exp"].as_i64(), Some(exp), "{body}");
    assert_lifetime(exp, ACCESS_LIFETIME, issued_from, issued_by);
    let body: Value = introspect(&app, as_client(), &refresh_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    let body: Value = introspect(&app, as_client(), "not a token")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "active": false }));

    let as_admin = app.client.post(&url).bearer_auth(&app.token);
    let body: Value = introspect(&app, as_admin, &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["active"], true);

    // After revocation the token is inactive.
    post_form(&app, "/auth/revoke", &[("token", &access)])
        .await
        .send()
        .await
        .unwrap();
    let body: Value = introspect(&app, as_client(), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "active": false }));

    // Nobody else may ask.
    let (viewer, _) = session(&app, "seen@example.com", PASSWORD).await;
    let response = introspect(&app, app.client.post(&url).bearer_auth(&viewer), &viewer).await;
    assert_eq!(response.status(), 403);
    let response = introspect(&app, app.client.post(&url), &viewer).await;
    assert_eq!(
        oauth_error(response, StatusCode::UNAUTHORIZED).await,
        "invalid_client"
    );
    let response = introspect(
        &app,
        app.client.post(&url).basic_auth(&client_id, Some("wrong")),
        &viewer,
    )
    .await;
    assert_eq!(
        oauth_error(response, StatusCode::UNAUTHORIZED).await,
        "invalid_client"
    );
    let response = introspect(
        &app,
        app.client
            .post(&url)
            .header("authorization", "Basic !!!not-base64"),
        &viewer,
    )
    .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn expired_tampered_foreign_and_upload_tokens_are_refused() {
    let app = spawn_app().await;
    let me: Value = get(&app, &app.token, "/users/me")
        .await
        .json()
        .await
        .unwrap();
    let admin_id = me["id"].as_str().unwrap().parse().unwrap();
    let issuer = TokenIssuer::load_or_generate(
        &app.data_dir.path().join("token.key"),
        &app.data_dir.path().join("token.pub"),
    )
    .unwrap();
    let expired = issuer
        .issue_access(admin_id, Role::Admin, Duration::ZERO)
        .unwrap();
    let response = get(&app, &expired, "/users").await;
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(
        code(response, StatusCode::UNAUTHORIZED).await,
        "token_expired"
    );

    let mut tampered = app.token.clone().into_bytes();
    let at = tampered.len() / 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        code(
            get(&app, &tampered, "/users").await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "invalid_token"
    );

    let other = tempfile::tempdir().unwrap();
    let foreign = TokenIssuer::load_or_generate(&other.path().join("k"), &other.path().join("p"))
        .unwrap()
        .issue_access(admin_id, Role::Admin, Duration::from_secs(600))
        .unwrap();
    assert_eq!(
        code(
            get(&app, &foreign, "/users").await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "invalid_token"
    );

    for header in [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer not-a-biscuit",
        "Token x",
    ] {
        let response = app
            .client
            .get(format!("{}/api/v1/users/me", app.base))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header:?}");
    }
}

async fn upload_with(app: &TestApp, token: &str) -> Response {
    app.client
        .post(format!("{}/api/v1/videos", app.base))
        .bearer_auth(token)
        .multipart(
            reqwest::multipart::Form::new()
                .text("title", "direct upload")
                .part("file", reqwest::multipart::Part::bytes(vec![1u8; 128])),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn upload_tokens_upload_one_video_and_nothing_else() {
    let app = spawn_app().await;
    create_user(&app, "up@example.com", "uploader").await;
    create_user(&app, "view@example.com", "viewer").await;
    let (uploader, _) = session(&app, "up@example.com", PASSWORD).await;
    let (viewer, _) = session(&app, "view@example.com", PASSWORD).await;
    let mint = |token: &str| {
        app.client
            .post(format!("{}/api/v1/uploads/token", app.base))
            .bearer_auth(token.to_owned())
            .send()
    };
    assert_eq!(mint(&viewer).await.unwrap().status(), 403);
    let minted_from = unix_now();
    let response = mint(&uploader).await.unwrap();
    let minted_by = unix_now();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let upload = body["token"].as_str().unwrap().to_owned();
    // The token itself ends ten minutes after it was minted (before the
    // access token it came from), and the answer says when.
    let exp = decoded_expiry(&app, &upload, Operation::UploadVideo);
    assert_lifetime(exp, UPLOAD_LIFETIME, minted_from, minted_by);
    assert!(exp < decoded_expiry(&app, &uploader, Operation::Api));
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(
        (exp - minted_by - 1..=exp - minted_from).contains(&expires_in),
        "expires_in {expires_in} for a token expiring at {exp}"
    );

    // Not an access token.
    assert_eq!(
        get(&app, &upload, "/videos").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = upload_with(&app, &upload).await;
    assert_eq!(response.status(), 202);
    let video: Value = response.json().await.unwrap();
    // The video belongs to the uploader.
    let listed: Value = get(&app, &uploader, "/videos").await.json().await.unwrap();
    assert_eq!(listed["items"][0]["id"], video["id"]);
    // Single use.
    assert_eq!(
        code(upload_with(&app, &upload).await, StatusCode::UNAUTHORIZED).await,
        "token_revoked"
    );
    // Using it up consumed only the attenuated token, not the one it came from.
    assert_eq!(get(&app, &uploader, "/videos").await.status(), 200);
    // An upload token mints no further tokens.
    assert_eq!(mint(&upload).await.unwrap().status(), 401);

    // It is the uploader's own token attenuated: revoking that kills it too.
    let body: Value = mint(&uploader).await.unwrap().json().await.unwrap();
    let second = body["token"].as_str().unwrap().to_owned();
    assert!(second.len() > uploader.len(), "an appended block");
    let response = post_form(&app, "/auth/revoke", &[("token", &uploader)])
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        upload_with(&app, &second).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admins_manage_users() {
    let app = spawn_app().await;
    let a = create_user(&app, "a@example.com", "uploader").await;
    let b = create_user(&app, "B@Example.com", "viewer").await;
    let response = send_json(
        &app,
        reqwest::Method::POST,
        Some(&app.token),
        "/users",
        json!({ "email": "b@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(code(response, StatusCode::CONFLICT).await, "email_taken");
    for bad in [
        json!({ "email": "not-an-address", "password": PASSWORD }),
        json!({ "email": "c@example.com", "password": "short" }),
        json!({ "email": "c@example.com", "password": PASSWORD, "role": "root" }),
        json!({ "email": "c@example.com", "password": PASSWORD, "extra": 1 }),
    ] {
        let response =
            send_json(&app, reqwest::Method::POST, Some(&app.token), "/users", bad).await;
        assert_eq!(response.status(), 400);
    }

    // Keyset pagination walks every account once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/users?limit=1&cursor={c}"),
            None => "/users?limit=1".to_owned(),
        };
        let page: Value = get(&app, &app.token, &path).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, [ADMIN_EMAIL, "a@example.com", "b@example.com"]);
    for bad in ["/users?limit=0", "/users?cursor=zzz", "/users?page=2"] {
        assert_eq!(get(&app, &app.token, bad).await.status(), 400, "{bad}");
    }

    // A role change ends the user's sessions; the new role holds at the next login.
    let (old, _) = session(&app, "a@example.com", PASSWORD).await;
    let response = send_json(
        &app,
        reqwest::Method::PATCH,
        Some(&app.token),
        &format!("/users/{a}"),
        json!({ "role": "viewer" }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(get(&app, &old, "/users/me").await.status(), 401);
    let (new, _) = session(&app, "a@example.com", PASSWORD).await;
    let me: Value = get(&app, &new, "/users/me").await.json().await.unwrap();
    assert_eq!(me["role"], "viewer");

    // Disabling refuses logins with the same error as a wrong password would get.
    let response = send_json(
        &app,
        reqwest::Method::PATCH,
        Some(&app.token),
        &format!("/users/{b}"),
        json!({ "disabled": true }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        oauth_error(
            password_login(&app, "b@example.com", PASSWORD).await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_grant"
    );

    // The last enabled admin stays an admin.
    let admin_id = get(&app, &app.token, "/users/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for change in [json!({ "role": "viewer" }), json!({ "disabled": true })] {
        let response = send_json(
            &app,
            reqwest::Method::PATCH,
            Some(&app.token),
            &format!("/users/{admin_id}"),
            change,
        )
        .await;
        assert_eq!(code(response, StatusCode::CONFLICT).await, "last_admin");
    }

    let response = app
        .client
        .delete(format!("{}/api/v1/users/{b}", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    for id in [
        b.as_str(),
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
    ] {
        assert_eq!(
            get(&app, &app.token, &format!("/users/{id}"))
                .await
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn sign_up_is_closed_unless_opened() {
    let closed = spawn_app().await;
    let response = send_json(
        &closed,
        reqwest::Method::POST,
        None,
        "/users",
        json!({ "email": "me@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(response.status(), 401);

    let open = spawn_app_with(&[("GOFLIX_SIGNUP", "open")]).await;
    let response = send_json(
        &open,
        reqwest::Method::POST,
        None,
        "/users",
        json!({ "email": "me@example.com", "password": PASSWORD, "role": "admin" }),
    )
    .await;
    assert_eq!(response.status(), 403);
    let response = send_json(
        &open,
        reqwest::Method::POST,
        None,
        "/users",
        json!({ "email": "me@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(response.status(), 202);
    let (access, _) = session(&open, "me@example.com", PASSWORD).await;
    let me: Value = get(&open, &access, "/users/me").await.json().await.unwrap();
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["email_verified"], false);
    // The new account was sent a verification token that works.
    let token = mailed_token(&open, "account.verify_email").await;
    let response = send_json(
        &open,
        reqwest::Method::POST,
        None,
        "/auth/verify-email",
        json!({ "token": token }),
    )
    .await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn email_verification_and_password_reset_use_single_use_tokens() {
    let app = spawn_app().await;
    create_user(&app, "forgetful@example.com", "uploader").await;
    let (access, refresh_token) = session(&app, "forgetful@example.com", PASSWORD).await;

    // Verification.
    let request = |token: String| {
        app.client
            .post(format!("{}/api/v1/users/me/verify-email/request", app.base))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(request(access.clone()).await.unwrap().status(), 202);
    let token = mailed_token(&app, "account.verify_email").await;
    let verify = |token: String| {
        send_json(
            &app,
            reqwest::Method::POST,
            None,
            "/auth/verify-email",
            json!({ "token": token }),
        )
    };
    assert_eq!(verify(token.clone()).await.status(), 204);
    let me: Value = get(&app, &access, "/users/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);
    assert_eq!(
        code(verify(token).await, StatusCode::BAD_REQUEST).await,
        "invalid_token"
    );
    assert_eq!(
        code(request(access.clone()).await.unwrap(), StatusCode::CONFLICT).await,
        "already_verified"
    );

    // Reset: the same answer for an unknown address.
    let reset_request = |email: &str| {
        send_json(
            &app,
            reqwest::Method::POST,
            None,
            "/auth/password-reset/request",
            json!({ "email": email }),
        )
    };
    let known = reset_request("Forgetful@example.com").await;
    let unknown = reset_request("nobody@example.com").await;
    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), 202);
    assert_eq!(
        known.json::<Value>().await.unwrap(),
        unknown.json::<Value>().await.unwrap()
    );
    let token = mailed_token(&app, "account.password_reset").await;
    let reset = |token: &str, password: &str| {
        send_json(
            &app,
            reqwest::Method::POST,
            None,
            "/auth/password-reset",
            json!({ "token": token, "password": password }),
        )
    };
    assert_eq!(
        code(reset(&token, "short").await, StatusCode::BAD_REQUEST).await,
        "weak_password"
    );
    assert_eq!(
        code(
            reset("forged", "new-password-456").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_token"
    );
    assert_eq!(reset(&token, "new-password-456").await.status(), 204);
    assert_eq!(
        code(
            reset(&token, "another-password-789").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_token"
    );
    // Every earlier session ended; only the new password works.
    assert_eq!(get(&app, &access, "/users/me").await.status(), 401);
    assert_eq!(refresh(&app, &refresh_token).await.status(), 400);
    assert_eq!(
        password_login(&app, "forgetful@example.com", PASSWORD)
            .await
            .status(),
        400
    );
    session(&app, "forgetful@example.com", "new-password-456").await;
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_account_and_address() {
    let app = spawn_app().await;
    create_user(&app, "target@example.com", "viewer").await;
    let mut refused = None;
    for _ in 0..20 {
        let response = password_login(&app, "target@example.com", "wrong-password").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), 400);
    }
    let response = refused.expect("never rate limited");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(
        code(response, StatusCode::TOO_MANY_REQUESTS).await,
        "rate_limited"
    );
    // Even the right password waits now, from this address; other accounts
    // are unaffected (tests/suite/hostile/lockout.rs: other addresses too).
    assert_eq!(
        password_login(&app, "target@example.com", PASSWORD)
            .await
            .status(),
        429
    );
    assert_eq!(
        password_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        200
    );
    // An unknown account is limited the same way, so limits reveal nothing.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(
            password_login(&app, "ghost@example.com", "wrong-password")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses.last(), Some(&429));
}

/// One failed password login for a fresh unknown account, through a proxy
/// that says the client is `forwarded_for`.
async fn login_via(app: &TestApp, attempt: usize, forwarded_for: &str) -> u16 {
    let email = format!("ghost{attempt}@example.com");
    app.client
        .post(format!("{}/api/v1/auth/token", app.base))
        .header("X-Forwarded-For", forwarded_for)
        .form(&[
            ("grant_type", "password"),
            ("username", email.as_str()),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn per_ip_limits_believe_forwarded_for_only_from_trusted_proxies() {
    // No trusted proxy: a client rotating forged X-Forwarded-For values is
    // still one address and runs out of its burst of 30 (one of which the
    // test's own admin login used).
    let app = spawn_app().await;
    let forged: Vec<String> = (0..40).map(|i| format!("198.51.100.{i}")).collect();
    let statuses: Vec<u16> = futures_util::future::join_all(
        forged
            .iter()
            .enumerate()
            .map(|(i, client)| login_via(&app, i, client)),
    )
    .await;
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 10, "{statuses:?}");

    // Behind a trusted proxy (the test client's loopback address), the
    // rightmost untrusted hop is the client: each client has its own burst,
    // and a forged entry left of what the proxy appended changes nothing.
    // (All at once: the checks run before any password hashing, so they
    // all fall well inside one refill interval.)
    let app = spawn_app_with(&[("GOFLIX_TRUSTED_PROXIES", "127.0.0.0/8, ::1")]).await;
    let clients: Vec<&str> = std::iter::repeat_n("203.0.113.1", 31)
        .chain(["203.0.113.2, 203.0.113.1", "203.0.113.2"])
        .collect();
    let statuses: Vec<u16> = futures_util::future::join_all(
        clients
            .iter()
            .enumerate()
            .map(|(i, client)| login_via(&app, i, client)),
    )
    .await;
    let refused = |from: &dyn Fn(&str) -> bool| {
        clients
            .iter()
            .zip(&statuses)
            .filter(|(client, status)| from(client) && **status == 429)
            .count()
    };
    assert_eq!(refused(&|c| c.ends_with("203.0.113.1")), 2, "{statuses:?}");
    // (Its password may not be checked at once: 30 hashes run before it
    // in a few slots, so it may be answered 503, but never 429.)
    assert!(
        matches!(statuses.last(), Some(400 | 503)),
        "the other client has its own burst: {statuses:?}"
    );
}
