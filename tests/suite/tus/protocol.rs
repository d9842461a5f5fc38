//! Each protocol error answers the status the tus specification (or the
//! API) names, and nothing of the refused request is stored: wrong or
//! missing `Tus-Resumable` (412), offset mismatch (409), length overrun
//! (413, also for a chunked body), unknown id (404), expired upload (410,
//! then removed by the sweeper), bad checksum (460), unsupported checksum
//! algorithm (400), wrong content type (415), no token (401), someone
//! else's upload (404). Also: capabilities over `OPTIONS`, CORS headers,
//! `X-HTTP-Method-Override`, `creation-with-upload`, termination, and a
//! retried final PATCH that creates no second video.

use super::files_under;
use crate::common::{login, spawn_app_with, TestApp};
use base64::Engine;
use goflix_control_api::db::upload;
use goflix_shared::config::Database;
use reqwest::{Method, RequestBuilder, Response};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use sha2::Digest;
use std::time::{Duration, Instant};

const LIMIT: u64 = 1_000_000;

struct Tus<'a> {
    app: &'a TestApp,
}

impl Tus<'_> {
    fn endpoint(&self) -> String {
        format!("{}/api/v1/uploads/tus", self.app.base)
    }

    /// A tus request with `Tus-Resumable: 1.0.0` and the bearer `token`.
    fn request(&self, method: Method, url: &str, token: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, url)
            .header("Tus-Resumable", "1.0.0")
            .bearer_auth(token)
    }

    /// Creates an upload of `length` bytes titled `title`; its URL.
    async fn create(&self, length: u64, token: &str) -> String {
        let response = self
            .request(Method::POST, &self.endpoint(), token)
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", metadata(&[("title", "protocol test")]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        header(&response, "location")
    }

    async fn patch(&self, url: &str, token: &str, offset: u64, body: Vec<u8>) -> Response {
        self.request(Method::PATCH, url, token)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `Upload-Offset` from a HEAD, or the HEAD's status when it fails.
    async fn offset(&self, url: &str, token: &str) -> Result<u64, u16> {
        let response = self.request(Method::HEAD, url, token).send().await.unwrap();
        match response.status().as_u16() {
            200 => Ok(header(&response, "upload-offset").parse().unwrap()),
            status => Err(status),
        }
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {response:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn metadata(pairs: &[(&str, &str)]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", engine.encode(v)))
        .collect();
    encoded.join(",")
}

fn sha1_header(bytes: &[u8]) -> String {
    let digest = sha1::Sha1::digest(bytes);
    format!(
        "sha1 {}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Creates an uploader (or any `role`) and signs it in.
async fn user_token(app: &TestApp, email: &str, role: &str) -> String {
    let password = "a long enough password 1";
    let response = app
        .client
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .json(&json!({"email": email, "password": password, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    login(&app.client, &app.base, email, password).await
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_protocol_errors_answer_their_status_and_store_nothing() {
    let limit = LIMIT.to_string();
    let app = spawn_app_with(&[("GOFLIX_MAX_UPLOAD_BYTES", &limit)]).await;
    let tus = Tus { app: &app };
    let token = app.token.as_str();
    let staging = |url: &str| {
        let id = super::id_of(url);
        files_under(&app.data_dir.path().join("objects/uploads").join(id))
    };

    // Capabilities, without a token, and the CORS preflight answer.
    let options = app
        .client
        .request(Method::OPTIONS, tus.endpoint())
        .header("Origin", "https://partner.example")
        .header("Access-Control-Request-Method", "PATCH")
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 204);
    assert_eq!(header(&options, "tus-version"), "1.0.0");
    assert_eq!(header(&options, "tus-max-size"), limit);
    for extension in [
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    ] {
        assert!(
            header(&options, "tus-extension")
                .split(',')
                .any(|e| e == extension),
            "{extension}"
        );
    }
    assert!(header(&options, "tus-checksum-algorithm").contains("sha1"));
    assert_eq!(header(&options, "access-control-allow-origin"), "*");
    assert!(header(&options, "access-control-allow-headers").contains("Upload-Offset"));
    assert!(header(&options, "access-control-allow-methods").contains("PATCH"));

    // Version, size limit and credentials are checked at creation.
    let no_version = app
        .client
        .post(tus.endpoint())
        .bearer_auth(token)
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 412);
    let old_version = app
        .client
        .post(tus.endpoint())
        .bearer_auth(token)
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(old_version.status(), 412);
    assert_eq!(header(&old_version, "tus-resumable"), "1.0.0");
    let too_long = tus
        .request(Method::POST, &tus.endpoint(), token)
        .header("Upload-Length", (LIMIT + 1).to_string())
        .header("Upload-Metadata", metadata(&[("title", "big")]))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 413);
    let anonymous = app
        .client
        .post(tus.endpoint())
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let bad_metadata = tus
        .request(Method::POST, &tus.endpoint(), token)
        .header("Upload-Length", "10")
        .header("Upload-Metadata", "title !!notbase64")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_metadata.status(), 400);

    // A created upload: absolute Location, expiry a day ahead, CORS exposure.
    let url = tus.create(100, token).await;
    assert!(
        url.starts_with(&format!("{}/api/v1/uploads/tus/", app.base)),
        "{url}"
    );
    let head = tus.request(Method::HEAD, &url, token).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-length"), "100");
    assert_eq!(header(&head, "upload-offset"), "0");
    assert_eq!(header(&head, "cache-control"), "no-store");
    assert!(header(&head, "access-control-expose-headers").contains("Upload-Offset"));
    let expires = httpdate::parse_http_date(&header(&head, "upload-expires")).unwrap();
    let ahead = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(
        ahead > Duration::from_secs(23 * 3600) && ahead <= Duration::from_secs(24 * 3600),
        "{ahead:?}"
    );

    // Refused PATCHes store nothing.
    let bytes: Vec<u8> = (0..100u8).collect();
    let wrong_type = tus
        .request(Method::PATCH, &url, token)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/octet-stream")
        .body(bytes[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(
        tus.patch(&url, token, 5, bytes[..10].to_vec())
            .await
            .status(),
        409
    );
    let mut over = bytes.clone();
    over.push(0);
    assert_eq!(tus.patch(&url, token, 0, over.clone()).await.status(), 413);
    let chunked_over = tus
        .request(Method::PATCH, &url, token)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            over.chunks(30)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked_over.status(), 413);
    let mismatch = tus
        .request(Method::PATCH, &url, token)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Checksum", sha1_header(b"something else"))
        .body(bytes[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 460);
    let unsupported = tus
        .request(Method::PATCH, &url, token)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Checksum", "md5 XUFAKrxLKna5cZ2REBfFkg==")
        .body(bytes[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(unsupported.status(), 400);
    assert_eq!(tus.offset(&url, token).await, Ok(0));

    // Someone else's upload, an unknown one, no token.
    let other = user_token(&app, "other-uploader@example.test", "uploader").await;
    assert_eq!(tus.offset(&url, &other).await, Err(404));
    assert_eq!(
        tus.patch(&url, &other, 0, bytes[..10].to_vec())
            .await
            .status(),
        404
    );
    let delete = tus
        .request(Method::DELETE, &url, &other)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404);
    let viewer = user_token(&app, "viewer@example.test", "viewer").await;
    let by_viewer = tus
        .request(Method::POST, &tus.endpoint(), &viewer)
        .header("Upload-Length", "10")
        .header("Upload-Metadata", metadata(&[("title", "no")]))
        .send()
        .await
        .unwrap();
    assert_eq!(by_viewer.status(), 403);
    let unknown = format!("{}/{}", tus.endpoint(), uuid::Uuid::now_v7());
    assert_eq!(tus.offset(&unknown, token).await, Err(404));
    assert_eq!(tus.patch(&unknown, token, 0, vec![1]).await.status(), 404);
    assert_eq!(
        tus.offset(&format!("{}/not-an-id", tus.endpoint()), token)
            .await,
        Err(404)
    );
    let anonymous_head = app
        .client
        .head(&url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_head.status(), 401);
    assert_eq!(tus.offset(&url, token).await, Ok(0));

    // Accepted: a checksummed PATCH, then one through X-HTTP-Method-Override.
    let checked = tus
        .request(Method::PATCH, &url, token)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Checksum", sha1_header(&bytes[..10]))
        .body(bytes[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), 204);
    assert_eq!(header(&checked, "upload-offset"), "10");
    let overridden = tus
        .request(Method::POST, &url, token)
        .header("X-HTTP-Method-Override", "PATCH")
        .header("Upload-Offset", "10")
        .header("Content-Type", "application/offset+octet-stream")
        .body(bytes[10..50].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(overridden.status(), 204);
    assert_eq!(tus.offset(&url, token).await, Ok(50));
    assert_eq!(
        std::fs::read(
            app.data_dir
                .path()
                .join("objects/uploads")
                .join(super::id_of(&url))
                .join("data")
        )
        .unwrap(),
        bytes[..50]
    );

    // Expiry: 410 at once, then the sweeper removes the bytes and the row.
    let db =
        goflix_control_api::connect(Database::sqlite_in(app.data_dir.path()).connection_url(), 1)
            .await
            .unwrap();
    let id = uuid::Uuid::parse_str(&super::id_of(&url)).unwrap();
    upload::Entity::update_many()
        .col_expr(upload::Column::ExpiresAt, Expr::value(0_i64))
        .filter(upload::Column::Id.eq(id))
        .exec(&db)
        .await
        .unwrap();
    assert_eq!(tus.offset(&url, token).await, Err(410));
    assert_eq!(
        tus.patch(&url, token, 50, bytes[50..].to_vec())
            .await
            .status(),
        410
    );
    let started = Instant::now();
    while tus.offset(&url, token).await != Err(404) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the expired upload was not removed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(staging(&url), Vec::<String>::new());

    // Termination removes an upload and its bytes.
    let doomed = tus.create(100, token).await;
    assert_eq!(
        tus.patch(&doomed, token, 0, bytes[..30].to_vec())
            .await
            .status(),
        204
    );
    assert_eq!(staging(&doomed), ["data"]);
    let terminated = tus
        .request(Method::DELETE, &doomed, token)
        .send()
        .await
        .unwrap();
    assert_eq!(terminated.status(), 204);
    assert_eq!(tus.offset(&doomed, token).await, Err(404));
    assert_eq!(staging(&doomed), Vec::<String>::new());

    // creation-with-upload of every byte: the video exists under the
    // upload's id; a retried final PATCH creates no second one.
    let whole = tus
        .request(Method::POST, &tus.endpoint(), token)
        .header("Upload-Length", "100")
        .header(
            "Upload-Metadata",
            metadata(&[("title", "in one go"), ("visibility", "private")]),
        )
        .header("Content-Type", "application/offset+octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 201);
    assert_eq!(header(&whole, "upload-offset"), "100");
    let whole_url = header(&whole, "location");
    let whole_id = super::id_of(&whole_url);
    let video = app.video(&whole_id).await;
    assert_eq!(video["title"], "in one go", "{video}");
    assert_eq!(video["visibility"], "private", "{video}");
    let retried = tus.patch(&whole_url, token, 100, Vec::new()).await;
    assert_eq!(retried.status(), 204);
    assert_eq!(
        tus.patch(&whole_url, token, 100, vec![1]).await.status(),
        413
    );
    assert_eq!(
        std::fs::read(app.data_dir.path().join("objects/masters").join(&whole_id)).unwrap(),
        bytes
    );
    let videos: Value = app
        .client
        .get(format!("{}/api/v1/videos?limit=100", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = videos["items"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{videos}");
    assert_eq!(listed[0]["id"], whole_id.as_str());
    let complete_delete = tus
        .request(Method::DELETE, &whole_url, token)
        .send()
        .await
        .unwrap();
    assert_eq!(complete_delete.status(), 409);
}
