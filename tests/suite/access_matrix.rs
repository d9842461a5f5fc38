//! Every route of `/api/v1` × every kind of caller: anonymous, viewer,
//! uploader, admin, and three bad tokens (expired, tampered, revoked — all
//! three admin tokens, so a bad admin token is still refused). Routes come
//! from one table, [`ROUTES`], which must list exactly the operations of
//! the served OpenAPI document: a new route without a row fails the test.
//! Since every row must then answer as its access says (never the JSON 404
//! or 405 of an unrouted request), every documented operation is routed;
//! and on every documented path, a method the document does not list must
//! get 405, so nothing is routed there that the document leaves out.

use crate::common::runners::{self, registration_token};
use crate::common::{spawn_app, spawn_app_with, Api, TestApp};
use goflix_shared::token::{Role, TokenIssuer};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const PASSWORD: &str = "matrix-password-123";

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Viewer,
    Uploader,
    Admin,
    Expired,
    Tampered,
    Revoked,
}

const EVERYONE: [Who; 7] = [
    Who::Anonymous,
    Who::Viewer,
    Who::Uploader,
    Who::Admin,
    Who::Expired,
    Who::Tampered,
    Who::Revoked,
];

impl Who {
    fn role(self) -> Option<Role> {
        match self {
            Who::Viewer => Some(Role::Viewer),
            Who::Uploader => Some(Role::Uploader),
            Who::Admin => Some(Role::Admin),
            _ => None,
        }
    }
}

/// What a route lets in.
#[derive(Clone, Copy, Debug)]
enum Access {
    /// No authentication; every caller gets this status class (2 = 2xx) or status.
    Public(u16),
    /// These roles get a 2xx, other roles 403, bad or missing tokens 401.
    Roles(&'static [Role]),
    /// Like `Roles`, for routes whose request bodies belong to other
    /// modules: allowed roles get past authorization (any status but 401,
    /// 403 and 5xx).
    RolesPass(&'static [Role]),
    /// Like `Roles`, and a request without a token is answered too: 2xx
    /// for the recipe's object (a public video), as for an allowed role.
    RolesOrAnonymous(&'static [Role]),
}

const ALL_ROLES: &[Role] = &[Role::Viewer, Role::Uploader, Role::Admin];
const UPLOADERS: &[Role] = &[Role::Uploader, Role::Admin];
const ADMINS: &[Role] = &[Role::Admin];

struct Route {
    method: &'static str,
    path: &'static str,
    access: Access,
}

const fn route(method: &'static str, path: &'static str, access: Access) -> Route {
    Route {
        method,
        path,
        access,
    }
}

/// Every operation under `/api/v1`.
const ROUTES: &[Route] = &[
    route("POST", "/auth/token", Access::Public(2)),
    route("POST", "/auth/revoke", Access::Public(2)),
    route("POST", "/auth/introspect", Access::Roles(ADMINS)),
    route("POST", "/auth/verify-email", Access::Public(400)),
    route("POST", "/auth/password-reset/request", Access::Public(2)),
    route("POST", "/auth/password-reset", Access::Public(400)),
    route("POST", "/uploads/token", Access::Roles(UPLOADERS)),
    route("POST", "/uploads", Access::Roles(UPLOADERS)),
    route("OPTIONS", "/uploads/tus", Access::Public(2)),
    route("POST", "/uploads/tus", Access::Roles(UPLOADERS)),
    // An upload is its creator's (here the uploader's): other callers
    // with the upload right get 404, as for any upload not theirs.
    route("OPTIONS", "/uploads/tus/{id}", Access::Public(2)),
    route("HEAD", "/uploads/tus/{id}", Access::RolesPass(UPLOADERS)),
    route("PATCH", "/uploads/tus/{id}", Access::RolesPass(UPLOADERS)),
    route("DELETE", "/uploads/tus/{id}", Access::RolesPass(UPLOADERS)),
    route("POST", "/uploads/tus/{id}", Access::RolesPass(UPLOADERS)),
    route("GET", "/users", Access::Roles(ADMINS)),
    route("POST", "/users", Access::Roles(ADMINS)),
    route("GET", "/users/me", Access::Roles(ALL_ROLES)),
    route(
        "POST",
        "/users/me/verify-email/request",
        Access::Roles(ALL_ROLES),
    ),
    route(
        "GET",
        "/users/me/notification-preferences",
        Access::Roles(ALL_ROLES),
    ),
    route(
        "PUT",
        "/users/me/notification-preferences",
        Access::RolesPass(ALL_ROLES),
    ),
    route("GET", "/users/{id}", Access::Roles(ADMINS)),
    route("PATCH", "/users/{id}", Access::Roles(ADMINS)),
    route("DELETE", "/users/{id}", Access::Roles(ADMINS)),
    route("GET", "/clients", Access::Roles(ADMINS)),
    route("POST", "/clients", Access::Roles(ADMINS)),
    route("DELETE", "/clients/{id}", Access::Roles(ADMINS)),
    route(
        "POST",
        "/runners/registration-tokens",
        Access::Roles(ADMINS),
    ),
    route("GET", "/runners/registration-tokens", Access::Roles(ADMINS)),
    route(
        "DELETE",
        "/runners/registration-tokens/{id}",
        Access::Roles(ADMINS),
    ),
    route("GET", "/runners", Access::Roles(ADMINS)),
    route("DELETE", "/runners/{id}", Access::Roles(ADMINS)),
    route("GET", "/videos", Access::Roles(ALL_ROLES)),
    route("POST", "/videos", Access::Roles(UPLOADERS)),
    route("GET", "/videos/{id}", Access::RolesOrAnonymous(ALL_ROLES)),
    route("PATCH", "/videos/{id}", Access::Roles(UPLOADERS)),
    route("DELETE", "/videos/{id}", Access::Roles(UPLOADERS)),
    route(
        "POST",
        "/videos/{id}/playback-token",
        Access::Roles(UPLOADERS),
    ),
    route("POST", "/videos/{id}/captions", Access::Roles(UPLOADERS)),
    route(
        "GET",
        "/videos/{id}/captions",
        Access::RolesOrAnonymous(ALL_ROLES),
    ),
    route(
        "DELETE",
        "/videos/{id}/captions/{language}",
        Access::Roles(UPLOADERS),
    ),
    route("POST", "/videos/{id}/cancel", Access::RolesPass(UPLOADERS)),
    route(
        "POST",
        "/videos/{id}/retranscode",
        Access::RolesPass(ADMINS),
    ),
    route("GET", "/videos/{id}/events", Access::Roles(ALL_ROLES)),
    route("GET", "/events", Access::Roles(ALL_ROLES)),
    route("GET", "/webhooks", Access::Roles(ADMINS)),
    route("POST", "/webhooks", Access::RolesPass(ADMINS)),
    route("DELETE", "/webhooks/{id}", Access::RolesPass(ADMINS)),
    route(
        "GET",
        "/webhooks/{id}/deliveries",
        Access::RolesPass(ADMINS),
    ),
    route("GET", "/notification-templates", Access::Roles(ADMINS)),
    route(
        "GET",
        "/notification-templates/{name}",
        Access::RolesPass(ADMINS),
    ),
    route(
        "PUT",
        "/notification-templates/{name}",
        Access::RolesPass(ADMINS),
    ),
    route("GET", "/openapi.json", Access::Public(2)),
];

/// The callers' tokens and the objects the requests act on.
struct Fixtures {
    viewer: String,
    uploader: String,
    admin: String,
    expired: String,
    tampered: String,
    revoked: String,
    viewer_email: String,
    /// A public video of the uploader.
    video: String,
    /// A viewer account that PATCH requests change.
    target_user: String,
    counter: std::sync::atomic::AtomicU32,
}

impl Fixtures {
    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Anonymous => None,
            Who::Viewer => Some(&self.viewer),
            Who::Uploader => Some(&self.uploader),
            Who::Admin => Some(&self.admin),
            Who::Expired => Some(&self.expired),
            Who::Tampered => Some(&self.tampered),
            Who::Revoked => Some(&self.revoked),
        }
    }

    fn unique(&self, prefix: &str) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{prefix}-{n}")
    }
}

fn url(app: &TestApp, path: &str) -> String {
    format!("{}/api/v1{path}", app.base)
}

async fn json_request(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> Value {
    let response = app
        .client
        .request(method, url(app, path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

async fn login(app: &TestApp, email: &str) -> String {
    crate::common::login(&app.client, &app.base, email, PASSWORD).await
}

async fn create_user(app: &TestApp, email: &str, role: &str) -> String {
    let body = json_request(
        app,
        Method::POST,
        "/users",
        &app.token,
        json!({ "email": email, "password": PASSWORD, "role": role }),
    )
    .await;
    body["id"].as_str().unwrap().to_owned()
}

async fn upload(app: &TestApp, token: &str) -> String {
    let response = app
        .client
        .post(url(app, "/videos"))
        .bearer_auth(token)
        .multipart(
            reqwest::multipart::Form::new()
                .text("title", "matrix")
                .part("file", reqwest::multipart::Part::bytes(vec![0u8; 256])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A fresh tus upload of ten bytes by the holder of `token`; its path.
async fn tus_upload(app: &TestApp, token: &str) -> String {
    let response = app
        .client
        .post(url(app, "/uploads/tus"))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "10")
        .header("Upload-Metadata", "title bWF0cml4")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap();
    let id = location.rsplit('/').next().unwrap();
    format!("/uploads/tus/{id}")
}

async fn fixtures(app: &TestApp) -> Fixtures {
    create_user(app, "viewer@matrix.test", "viewer").await;
    create_user(app, "uploader@matrix.test", "uploader").await;
    create_user(app, "admin2@matrix.test", "admin").await;
    let target_user = create_user(app, "target@matrix.test", "viewer").await;
    let viewer = login(app, "viewer@matrix.test").await;
    let uploader = login(app, "uploader@matrix.test").await;
    let revoked = login(app, "admin2@matrix.test").await;
    let response = app
        .client
        .post(url(app, "/auth/revoke"))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let admin_id = json_request(app, Method::GET, "/users/me", &app.token, Value::Null).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expired = TokenIssuer::load_or_generate(
        &app.data_dir.path().join("token.key"),
        &app.data_dir.path().join("token.pub"),
    )
    .unwrap()
    .issue_access(admin_id, Role::Admin, Duration::ZERO)
    .unwrap();
    let mut tampered = app.token.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let video = upload(app, &uploader).await;
    Fixtures {
        viewer,
        uploader,
        admin: app.token.clone(),
        expired,
        tampered: String::from_utf8(tampered).unwrap(),
        revoked,
        viewer_email: "viewer@matrix.test".into(),
        video,
        target_user,
        counter: Default::default(),
    }
}

/// A request for `route` that succeeds for a caller with the right: fresh
/// objects for routes that delete.
async fn request(app: &TestApp, fx: &Fixtures, route: &Route) -> RequestBuilder {
    let client = &app.client;
    match (route.method, route.path) {
        ("POST", "/auth/token") => client.post(url(app, route.path)).form(&[
            ("grant_type", "password"),
            ("username", fx.viewer_email.as_str()),
            ("password", PASSWORD),
        ]),
        ("POST", "/auth/revoke") => client
            .post(url(app, route.path))
            .form(&[("token", "not-a-token")]),
        ("POST", "/auth/introspect") => client
            .post(url(app, route.path))
            .form(&[("token", fx.viewer.as_str())]),
        ("POST", "/auth/verify-email") => client
            .post(url(app, route.path))
            .json(&json!({ "token": "forged" })),
        ("POST", "/auth/password-reset/request") => client
            .post(url(app, route.path))
            .json(&json!({ "email": format!("{}@matrix.test", fx.unique("nobody")) })),
        ("POST", "/auth/password-reset") => client
            .post(url(app, route.path))
            .json(&json!({ "token": "forged", "password": "long-enough-password" })),
        ("POST", "/uploads/token") => client.post(url(app, route.path)),
        ("POST", "/uploads") => client
            .post(url(app, route.path))
            .json(&json!({ "title": "matrix direct", "length": 10 })),
        ("OPTIONS", "/uploads/tus") => client.request(Method::OPTIONS, url(app, route.path)),
        ("POST", "/uploads/tus") => client
            .post(url(app, route.path))
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "10")
            .header("Upload-Metadata", "title bWF0cml4"),
        ("OPTIONS", "/uploads/tus/{id}") => {
            let path = tus_upload(app, &fx.uploader).await;
            client.request(Method::OPTIONS, url(app, &path))
        }
        ("HEAD", "/uploads/tus/{id}") => {
            let path = tus_upload(app, &fx.uploader).await;
            client
                .head(url(app, &path))
                .header("Tus-Resumable", "1.0.0")
        }
        ("PATCH", "/uploads/tus/{id}") => {
            let path = tus_upload(app, &fx.uploader).await;
            client
                .patch(url(app, &path))
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Offset", "0")
                .header("Content-Type", "application/offset+octet-stream")
                .body(vec![7u8; 5])
        }
        ("DELETE", "/uploads/tus/{id}") => {
            let path = tus_upload(app, &fx.uploader).await;
            client
                .delete(url(app, &path))
                .header("Tus-Resumable", "1.0.0")
        }
        ("POST", "/uploads/tus/{id}") => {
            let path = tus_upload(app, &fx.uploader).await;
            client
                .post(url(app, &path))
                .header("Tus-Resumable", "1.0.0")
                .header("X-HTTP-Method-Override", "HEAD")
        }
        ("GET", "/users") => client.get(url(app, "/users?limit=2")),
        ("POST", "/users") => client.post(url(app, route.path)).json(&json!({
            "email": format!("{}@matrix.test", fx.unique("new")),
            "password": PASSWORD,
        })),
        ("GET", "/users/me") => client.get(url(app, route.path)),
        ("POST", "/users/me/verify-email/request") => client.post(url(app, route.path)),
        ("GET", "/users/me/notification-preferences") => client.get(url(app, route.path)),
        ("PUT", "/users/me/notification-preferences") => client
            .put(url(app, route.path))
            .json(&json!({ "email": true, "sms": false })),
        ("GET", "/users/{id}") => client.get(url(app, &format!("/users/{}", fx.target_user))),
        ("PATCH", "/users/{id}") => client
            .patch(url(app, &format!("/users/{}", fx.target_user)))
            .json(&json!({ "disabled": false })),
        ("DELETE", "/users/{id}") => {
            let email = format!("{}@matrix.test", fx.unique("doomed"));
            let id = create_user(app, &email, "viewer").await;
            client.delete(url(app, &format!("/users/{id}")))
        }
        ("GET", "/clients") => client.get(url(app, route.path)),
        ("POST", "/clients") => client
            .post(url(app, route.path))
            .json(&json!({ "name": "matrix", "scope": "videos:read" })),
        ("DELETE", "/clients/{id}") => {
            let body = json_request(
                app,
                Method::POST,
                "/clients",
                &fx.admin,
                json!({ "name": "doomed", "scope": "videos:read" }),
            )
            .await;
            let id = body["client_id"].as_str().unwrap();
            client.delete(url(app, &format!("/clients/{id}")))
        }
        ("POST", "/runners/registration-tokens") => client
            .post(url(app, route.path))
            .json(&json!({ "description": "matrix" })),
        ("GET", "/runners/registration-tokens") => client.get(url(app, route.path)),
        ("DELETE", "/runners/registration-tokens/{id}") => {
            let (id, _) = registration_token(api(app, &fx.admin), None).await;
            client.delete(url(app, &format!("/runners/registration-tokens/{id}")))
        }
        ("GET", "/runners") => client.get(url(app, route.path)),
        ("DELETE", "/runners/{id}") => {
            let id = register_runner(app, &fx.admin).await;
            client.delete(url(app, &format!("/runners/{id}")))
        }
        ("GET", "/videos") => client.get(url(app, route.path)),
        ("POST", "/videos") => client.post(url(app, route.path)).multipart(
            reqwest::multipart::Form::new()
                .text("title", "matrix upload")
                .part("file", reqwest::multipart::Part::bytes(vec![0u8; 256])),
        ),
        ("GET", "/videos/{id}") => client.get(url(app, &format!("/videos/{}", fx.video))),
        ("PATCH", "/videos/{id}") => client
            .patch(url(app, &format!("/videos/{}", fx.video)))
            .json(&json!({ "title": "renamed" })),
        ("DELETE", "/videos/{id}") => {
            let id = upload(app, &fx.uploader).await;
            client.delete(url(app, &format!("/videos/{id}")))
        }
        ("POST", "/videos/{id}/playback-token") => {
            client.post(url(app, &format!("/videos/{}/playback-token", fx.video)))
        }
        ("POST", "/videos/{id}/captions") => client
            .post(url(app, &format!("/videos/{}/captions", fx.video)))
            .multipart(caption_form("de")),
        ("GET", "/videos/{id}/captions") => {
            client.get(url(app, &format!("/videos/{}/captions", fx.video)))
        }
        ("DELETE", "/videos/{id}/captions/{language}") => {
            let added = app
                .client
                .post(url(app, &format!("/videos/{}/captions", fx.video)))
                .bearer_auth(&fx.uploader)
                .multipart(caption_form("fr"))
                .send()
                .await
                .unwrap();
            assert!(added.status().is_success(), "{}", added.status());
            client.delete(url(app, &format!("/videos/{}/captions/fr", fx.video)))
        }
        ("POST", "/videos/{id}/cancel") => {
            let id = upload(app, &fx.uploader).await;
            client.post(url(app, &format!("/videos/{id}/cancel")))
        }
        ("POST", "/videos/{id}/retranscode") => {
            client.post(url(app, &format!("/videos/{}/retranscode", fx.video)))
        }
        ("GET", "/videos/{id}/events") => {
            client.get(url(app, &format!("/videos/{}/events", fx.video)))
        }
        // Streams: the status and headers arrive at once, the body is not read.
        ("GET", "/events") => client.get(url(app, route.path)),
        ("GET", "/webhooks") => client.get(url(app, route.path)),
        ("POST", "/webhooks") => client.post(url(app, route.path)).json(&json!({
            "url": "https://hooks.example.com/goflix",
            "secret": "matrix-webhook-secret-0123456789",
            "events": ["video.ready"],
        })),
        ("DELETE", "/webhooks/{id}") => {
            client.delete(url(app, &format!("/webhooks/{}", uuid::Uuid::new_v4())))
        }
        ("GET", "/webhooks/{id}/deliveries") => client.get(url(
            app,
            &format!("/webhooks/{}/deliveries", uuid::Uuid::new_v4()),
        )),
        ("GET", "/notification-templates") => client.get(url(app, route.path)),
        ("GET", "/notification-templates/{name}") => {
            client.get(url(app, "/notification-templates/video.ready.email"))
        }
        ("PUT", "/notification-templates/{name}") => client
            .put(url(app, "/notification-templates/video.ready.email"))
            .json(&json!({ "source": "Your video {{ title }} is ready." })),
        ("GET", "/openapi.json") => client.get(url(app, route.path)),
        (method, path) => panic!("no request recipe for {method} {path}; add one"),
    }
}

/// A caption upload form in `language`: one SRT cue.
fn caption_form(language: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("language", language.to_owned())
        .text("label", format!("matrix {language}"))
        .part(
            "file",
            reqwest::multipart::Part::bytes(&b"1\n00:00:01,000 --> 00:00:02,000\nHallo\n"[..]),
        )
}

/// Whether `status` is what `who` should get from a route with `access`.
fn expected(access: Access, who: Who, status: u16) -> bool {
    let success = (200..300).contains(&status);
    match (access, who.role()) {
        (Access::Public(2), _) => success,
        (Access::Public(code), _) => status == code,
        (Access::RolesOrAnonymous(_), None) if who == Who::Anonymous => success,
        (Access::Roles(_) | Access::RolesPass(_) | Access::RolesOrAnonymous(_), None) => {
            status == 401
        }
        (Access::Roles(roles) | Access::RolesOrAnonymous(roles), Some(role))
            if roles.contains(&role) =>
        {
            success
        }
        (Access::RolesPass(roles), Some(role)) if roles.contains(&role) => {
            !matches!(status, 401 | 403 | 500..=599)
        }
        (_, Some(_)) => status == 403,
    }
}

/// The `(METHOD, path)` operations of the served OpenAPI document.
async fn documented(app: &TestApp) -> BTreeSet<(String, String)> {
    let document: Value = app
        .client
        .get(url(app, "/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

/// The API as the holder of `token`.
fn api<'a>(app: &'a TestApp, token: &'a str) -> Api<'a> {
    Api {
        client: &app.client,
        base: &app.base,
        token,
    }
}

/// Registers a runner over the app's gRPC port; its id.
async fn register_runner(app: &TestApp, admin: &str) -> String {
    let (_, token) = registration_token(api(app, admin), None).await;
    let channel = runners::channel(app.grpc.as_deref().expect("a gRPC port")).await;
    runners::client(&channel, &token)
        .register(goflix_runner_proto::RegisterRequest {
            name: "matrix".into(),
            version: "1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .runner_id
}

/// `goflix serve` with the gRPC port the runner routes need.
async fn matrix_app() -> TestApp {
    spawn_app_with(&[("GOFLIX_GRPC_LISTEN", "127.0.0.1:0")]).await
}

#[tokio::test]
async fn every_route_answers_every_caller_as_its_access_says() {
    let app = matrix_app().await;
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(table.len(), ROUTES.len(), "a route is listed twice");
    let documented = documented(&app).await;
    let missing: Vec<_> = documented.difference(&table).collect();
    let stale: Vec<_> = table.difference(&documented).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the access matrix must list exactly the documented routes; \
         without a row: {missing:?}; not documented: {stale:?}"
    );

    let fx = fixtures(&app).await;
    let mut failures = Vec::new();
    for route in ROUTES {
        for who in EVERYONE {
            let mut request = request(&app, &fx, route).await;
            if let Some(token) = fx.token(who) {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if !expected(route.access, who, status) {
                let body = response.text().await.unwrap_or_default();
                failures.push(format!(
                    "{} {} as {who:?}: {status} ({:?} expected) {body}",
                    route.method, route.path, route.access
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A refused bearer token is answered 401 before anything else of the
/// request is looked at: on every route that takes one, an expired, a
/// tampered and a revoked token with a malformed JSON body and a
/// malformed path id all get 401, never the 400 of the body or path.
#[tokio::test]
async fn refused_tokens_are_answered_before_the_body_or_the_path() {
    let app = matrix_app().await;
    let fx = fixtures(&app).await;
    let mut failures = Vec::new();
    let bearer_routes = ROUTES.iter().filter(|r| {
        matches!(
            r.access,
            Access::Roles(_) | Access::RolesPass(_) | Access::RolesOrAnonymous(_)
        )
    });
    for route in bearer_routes {
        let path = route
            .path
            .replace("{id}", "not-an-id")
            .replace("{name}", "no.such.template");
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        for who in [Who::Expired, Who::Tampered, Who::Revoked] {
            let response = app
                .client
                .request(method.clone(), url(&app, &path))
                .bearer_auth(fx.token(who).unwrap())
                .header("content-type", "application/json")
                .body("{\"unterminated\": ")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if status != 401 {
                let body = response.text().await.unwrap_or_default();
                failures.push(format!(
                    "{} {path} as {who:?}: {status} {body}",
                    route.method
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn methods_the_document_does_not_list_are_not_routed() {
    let app = spawn_app().await;
    let documented = documented(&app).await;
    let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();
    let mut routed = Vec::new();
    for path in paths {
        // Any id will do: an unrouted method is refused before it is read.
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{name}", "video.ready.email.subject");
        for method in [
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
        ] {
            if documented.contains(&(method.to_string(), path.clone())) {
                continue;
            }
            let response = app
                .client
                .request(method.clone(), url(&app, &concrete))
                .bearer_auth(&app.token)
                .send()
                .await
                .unwrap();
            if response.status() != 405 {
                routed.push(format!("{method} {path}: {}", response.status()));
            }
        }
    }
    assert!(
        routed.is_empty(),
        "routed but not in the OpenAPI document:\n{}",
        routed.join("\n")
    );
}
