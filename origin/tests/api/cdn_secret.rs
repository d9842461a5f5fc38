//! `GOFLIX_ORIGIN_CDN_SECRET`: with a secret configured, every origin
//! request must carry it in `X-Goflix-Cdn-Secret`; without one the header
//! is irrelevant.

use crate::helpers::{spawn_app, spawn_app_with_cdn_secret};
use goflix_shared::domain::Visibility;

const SECRET: &str = "edge-3f9a";

#[tokio::test]
async fn requests_without_the_cdn_secret_are_403() {
    let app = spawn_app_with_cdn_secret(SECRET).await;
    let p = app.publish(Visibility::Public).await;
    let lookups = app.lookups();
    for header in [None, Some("wrong"), Some("edge-3f9"), Some("EDGE-3F9A")] {
        let headers: Vec<_> = header
            .map(|h| ("X-Goflix-Cdn-Secret", h))
            .into_iter()
            .collect();
        for (method, path) in [
            ("GET", p.master_path()),
            ("HEAD", p.mpd_path()),
            ("GET", p.path("720p.mp4")),
            ("OPTIONS", p.master_path()),
            ("GET", "/v/unknown".to_string()),
        ] {
            let r = app.request(method, &path, &headers).await;
            assert_eq!(r.status, 403, "{method} {path} {header:?}");
            assert_eq!(r.header("cache-control"), Some("no-store"));
            if method == "GET" {
                assert_eq!(r.code(), "cdn_secret_required");
            }
        }
    }
    // Refused before the cache or storage is consulted.
    assert_eq!(app.lookups(), lookups);
    // The secret twice is refused too.
    let r = app
        .get(
            &p.master_path(),
            &[
                ("X-Goflix-Cdn-Secret", SECRET),
                ("X-Goflix-Cdn-Secret", SECRET),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn requests_with_the_cdn_secret_are_served() {
    let app = spawn_app_with_cdn_secret(SECRET).await;
    let p = app.publish(Visibility::Public).await;
    let secret = [("X-Goflix-Cdn-Secret", SECRET)];
    let r = app.get(&p.master_path(), &secret).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), p.master);
    let r = app
        .get(
            &p.path("720p.mp4"),
            &[("X-Goflix-Cdn-Secret", SECRET), ("Range", "bytes=5-9")],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.sized_body(), &p.video_bytes[5..10]);
    let r = app.request("OPTIONS", &p.master_path(), &secret).await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn without_a_configured_secret_the_header_is_irrelevant() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    assert_eq!(app.get(&p.master_path(), &[]).await.status, 200);
    let r = app
        .get(&p.master_path(), &[("X-Goflix-Cdn-Secret", "anything")])
        .await;
    assert_eq!(r.status, 200);
}
