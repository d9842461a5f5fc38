//! Protocol surface: CORS headers and preflights, `405` with `Allow`.

use crate::helpers::spawn_app;
use goflix_shared::domain::Visibility;

#[tokio::test]
async fn options_preflight_allows_player_headers() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let lookups = app.lookups();
    let r = app
        .request(
            "OPTIONS",
            &p.path("720p.mp4"),
            &[
                ("Origin", "https://player.example"),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "range, authorization"),
            ],
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let methods = r.header("access-control-allow-methods").unwrap();
    for method in ["GET", "HEAD", "OPTIONS"] {
        assert!(methods.contains(method));
    }
    let headers = r.header("access-control-allow-headers").unwrap();
    for header in [
        "Range",
        "Authorization",
        "If-None-Match",
        "If-Modified-Since",
        "If-Range",
    ] {
        assert!(headers.contains(header), "{header}");
    }
    assert!(r.header("access-control-max-age").is_some());
    assert_eq!(app.lookups(), lookups, "a preflight reads nothing");
}

#[tokio::test]
async fn cors_headers_are_on_every_response() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    for (path, status) in [
        (p.path("720p.mp4"), 200),
        (p.master_path(), 200),
        (p.path("nothing.mp4"), 404),
    ] {
        let r = app
            .get(&path, &[("Origin", "https://player.example")])
            .await;
        assert_eq!(r.status, status);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        let exposed = r.header("access-control-expose-headers").unwrap();
        for header in ["Content-Length", "Content-Range", "Accept-Ranges", "ETag"] {
            assert!(exposed.contains(header), "{header}");
        }
    }
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for path in [p.path("720p.mp4"), p.master_path(), p.mpd_path()] {
            let r = app.request(method, &path, &[("Content-Length", "0")]).await;
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
            assert_eq!(r.code(), "method_not_allowed");
        }
    }
}
