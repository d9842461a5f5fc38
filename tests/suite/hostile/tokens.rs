//! Tokens carrying blocks Goflix did not make. Anyone holding a token,
//! even an expired one, can append a block; these tests append a datalog
//! bomb (40 facts and a 5-way join over them), an empty block and an
//! escalation, and check that every route refuses them before an
//! authorizer is built (`goflix_token_authorizers_total` stays put), fast,
//! while `/healthz` keeps answering. Also: an upload token stays single-use
//! whatever is appended, the origin takes playback tokens only (an admin's
//! access token plays nothing), and a service client's token dies with its
//! owner's admin rights.

use crate::common::{clip, login, spawn_app, Api, TestApp};
use crate::hostile::serve_process::ServeProcess;
use biscuit_auth::macros::fact;
use biscuit_auth::{BlockBuilder, UnverifiedBiscuit};
use goflix_shared::token::{Role, TokenIssuer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Well under what the bomb cost before: more than 20 s per request.
const FAST: Duration = Duration::from_secs(1);

/// `f(0)…f(39)`, `r($a,$b,$c,$d,$e) <- f($a), …, f($e)` and a check on
/// `r`: 40⁵ joins in a single datalog iteration.
fn bomb() -> BlockBuilder {
    let mut block = BlockBuilder::new();
    for i in 0..40i64 {
        block = block.fact(fact!("f({i})")).unwrap();
    }
    block
        .code(
            "r($a, $b, $c, $d, $e) <- f($a), f($b), f($c), f($d), f($e);
             check if r(39, 38, 37, 36, 35);",
        )
        .unwrap()
}

/// `token` with `block` appended, as any holder can do without a key.
fn append(token: &str, block: BlockBuilder) -> String {
    UnverifiedBiscuit::from_base64(token)
        .unwrap()
        .append(block)
        .unwrap()
        .to_base64()
        .unwrap()
}

/// The value of an unlabelled counter on `/metrics` (0 before first use).
async fn counter(client: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0, |value| value.trim().parse().unwrap())
}

/// Uploads a short private clip with `token` and waits until it is ready.
async fn private_video(client: &reqwest::Client, base: &str, token: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = clip(dir.path(), "private.mp4", "160x120", 1, false);
    let form = reqwest::multipart::Form::new()
        .text("title", "private")
        .text("visibility", "private")
        .part(
            "file",
            reqwest::multipart::Part::bytes(std::fs::read(&file).unwrap())
                .file_name("private.mp4")
                .mime_str("video/mp4")
                .unwrap(),
        );
    let response = client
        .post(format!("{base}/api/v1/videos"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = Api {
        client,
        base,
        token,
    };
    let ready = |video: &Value| {
        assert_ne!(video["state"], "failed", "the private clip failed: {video}");
        video["state"] == "ready"
    };
    api.wait_for(&id, ("ready", Duration::from_secs(120)), ready, String::new)
        .await;
    id
}

#[tokio::test]
async fn a_datalog_bomb_is_refused_before_any_authorizer_runs_and_fast() {
    let server = ServeProcess::start(&[]).await;
    let client = reqwest::Client::new();
    let base = server.base.as_str();
    let admin = server.admin_token().await;
    let video = private_video(&client, base, &admin).await;
    let data = server.data_dir.path().join("data");
    let me: Value = client
        .get(format!("{base}/api/v1/users/me"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expired = TokenIssuer::load_or_generate(&data.join("token.key"), &data.join("token.pub"))
        .unwrap()
        .issue_access(
            me["id"].as_str().unwrap().parse().unwrap(),
            Role::Admin,
            Duration::ZERO,
        )
        .unwrap();
    let bombs = [append(&admin, bomb()), append(&expired, bomb())];

    let authorizers = counter(&client, base, "goflix_token_authorizers_total").await;
    for bomb in &bombs {
        let started = Instant::now();
        let revoke = client
            .post(format!("{base}/api/v1/auth/revoke"))
            .form(&[("token", bomb.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(revoke.status(), 200, "RFC 7009 answers 200 for any token");
        let api = client
            .get(format!("{base}/api/v1/videos"))
            .bearer_auth(bomb)
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), 401);
        let origin = client
            .get(format!("{base}/v/{video}/master.m3u8"))
            .query(&[("token", bomb.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(origin.status(), 403);
        assert!(
            started.elapsed() < 3 * FAST,
            "three bomb requests took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        counter(&client, base, "goflix_token_authorizers_total").await,
        authorizers,
        "a bomb reached an authorizer"
    );

    // Several in flight at once, and /healthz still answers at once.
    let in_flight: Vec<_> = (0..8)
        .map(|i| {
            let request = client
                .post(format!("{base}/api/v1/auth/revoke"))
                .form(&[("token", bombs[i % 2].clone())]);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let started = Instant::now();
    let health = client
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    assert!(
        started.elapsed() < FAST,
        "/healthz took {:?}",
        started.elapsed()
    );
    for request in in_flight {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert!(
        started.elapsed() < 4 * FAST,
        "bombs took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_upload_token_with_an_appended_block_is_refused_and_stays_single_use() {
    let app = spawn_app().await;
    let upload = |token: String| {
        let client = app.client.clone();
        let base = app.base.clone();
        async move {
            let form = reqwest::multipart::Form::new()
                .text("title", "reused")
                .part("file", reqwest::multipart::Part::bytes(vec![0u8; 64]));
            client
                .post(format!("{base}/api/v1/videos"))
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let response: Value = app
        .client
        .post(format!("{}/api/v1/uploads/token", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = response["token"].as_str().unwrap().to_owned();
    // Before: each appended block gave a fresh last revocation id, which was
    // all that was consumed, and the token created one video per block.
    for _ in 0..2 {
        assert_eq!(upload(append(&token, BlockBuilder::new())).await, 401);
    }
    assert_eq!(upload(token.clone()).await, 202);
    assert_eq!(upload(token.clone()).await, 401, "used twice");
    assert_eq!(upload(append(&token, bomb())).await, 401);
    // A block of exactly the upload shape, appended by the holder to their
    // own access token, names an id the server never issued: refused.
    let expires = std::time::SystemTime::now() + Duration::from_secs(600);
    let self_made = biscuit_auth::macros::block!(
        r#"expires({expires});
        check if operation($op), ["upload_video", "inspect"].contains($op);
        check if time($t), $t < {expires};"#
    );
    assert_eq!(upload(append(&app.token, self_made)).await, 401);
    // An access token with an appended block is refused as well.
    let started = Instant::now();
    let extended = append(&app.token, BlockBuilder::new());
    let me = app
        .client
        .get(format!("{}/api/v1/users/me", app.base))
        .bearer_auth(&extended)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(upload(extended).await, 401);
    assert!(started.elapsed() < FAST);
}

#[tokio::test]
async fn the_origin_refuses_an_admins_access_token() {
    let app = spawn_app().await;
    let video = private_video(&app.client, &app.base, &app.token).await;
    let path = format!("{}/v/{video}/master.m3u8", app.base);
    let query = app
        .client
        .get(&path)
        .query(&[("token", app.token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 403);
    let header = app
        .client
        .get(&path)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 403);
    // A playback token for it plays.
    let playback: Value = app
        .client
        .post(format!("{}/api/v1/videos/{video}/playback-token", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ok = app
        .client
        .get(&path)
        .query(&[("token", playback["token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// A second admin, signed in, with a `videos:read` client; returns the
/// admin's id and the client's access token.
async fn admin_with_a_client(app: &TestApp, email: &str) -> (String, String) {
    const PASSWORD: &str = "another correct horse battery";
    let created: Value = app
        .client
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .json(&json!({ "email": email, "password": PASSWORD, "role": "admin" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let admin = login(&app.client, &app.base, email, PASSWORD).await;
    let registered: Value = app
        .client
        .post(format!("{}/api/v1/clients", app.base))
        .bearer_auth(&admin)
        .json(&json!({ "name": "sync", "scope": "videos:read" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued: Value = app
        .client
        .post(format!("{}/api/v1/auth/token", app.base))
        .basic_auth(
            registered["client_id"].as_str().unwrap(),
            registered["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id, issued["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_service_clients_token_dies_when_its_owner_is_disabled_or_demoted() {
    let app = spawn_app().await;
    for (email, change) in [
        ("disabled@example.test", json!({ "disabled": true })),
        ("demoted@example.test", json!({ "role": "viewer" })),
    ] {
        let (owner, token) = admin_with_a_client(&app, email).await;
        let list = |token: String| {
            let request = app
                .client
                .get(format!("{}/api/v1/videos", app.base))
                .bearer_auth(token);
            async move { request.send().await.unwrap().status() }
        };
        assert_eq!(list(token.clone()).await, 200);
        let changed = app
            .client
            .patch(format!("{}/api/v1/users/{owner}", app.base))
            .bearer_auth(&app.token)
            .json(&change)
            .send()
            .await
            .unwrap();
        assert!(changed.status().is_success(), "{change}");
        assert_eq!(list(token).await, 401, "{change}");
    }
}
