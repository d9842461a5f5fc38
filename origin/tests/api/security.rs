//! Path safety: hostile paths are refused before any storage call. The
//! store's root is replaced by a plain file, so any read would fail with a
//! `500 storage_error`; and the manifest cache counts lookups.

use crate::helpers::spawn_app;
use goflix_shared::domain::VideoId;

#[tokio::test]
async fn traversal_and_malformed_paths_never_touch_storage() {
    let app = spawn_app().await;
    std::fs::rename(&app.root, app.root.with_extension("gone")).unwrap();
    std::fs::write(&app.root, b"not a directory").unwrap();
    let id = VideoId::new();
    let long = "a".repeat(4000);
    let hostile: Vec<(String, u16)> = vec![
        (format!("/v/{id}/..%2F..%2Fetc/passwd"), 400),
        (format!("/v/{id}/..%2f..%2f..%2fetc%2fpasswd"), 400),
        (format!("/v/{id}/../../etc/passwd"), 400),
        (format!("/v/{id}/%2e%2e/%2e%2e/etc/passwd"), 400),
        (format!("/v/{id}/v1/..\\..\\etc\\passwd"), 400),
        (format!("/v/{id}\\master.m3u8"), 400),
        (format!("/v/{id}/v1/720p.mp4%00.jpg"), 400),
        (format!("/v/{id}/v1/%00"), 400),
        (format!("/v/{id}/v1/{long}.mp4"), 400),
        (format!("/v/{id}/{long}/720p.mp4"), 400),
        ("/v/../../etc/passwd".to_string(), 400),
        // Well-formed but impossible names are simply not found.
        ("/v/not-a-uuid/master.m3u8".to_string(), 404),
        (
            format!("/v/{}/master.m3u8", id.to_string().to_uppercase()),
            404,
        ),
        (format!("/v/{}/master.m3u8", id.0.simple()), 404),
        (format!("/v/{id}/V1/720p.mp4"), 404),
        (format!("/v/{id}/v-1/720p.mp4"), 404),
        (format!("/v/{id}/{}/720p.mp4", "a".repeat(41)), 404),
        (format!("/v/{id}/v1/playback.json"), 404),
        (format!("/v/{id}/v1/720p.MP4"), 404),
        (format!("/v/{id}/v1/a.b.mp4"), 404),
        (format!("/v/{id}/v1/{}.mp4", "a".repeat(33)), 404),
        (format!("/v/{id}/v1/x.exe"), 404),
        (format!("/v/{id}/playback.json"), 404),
        (format!("/v/{id}/v1/sub/720p.mp4"), 404),
        (format!("/v/{id}"), 404),
        ("/v/".to_string(), 404),
    ];
    for (path, status) in &hostile {
        for method in ["GET", "HEAD"] {
            let r = app.request(method, path, &[]).await;
            assert_eq!(r.status, *status, "{method} {path}");
            if method == "GET" {
                let code = r.code();
                assert!(code == "bad_path" || code == "not_found", "{path}: {code}");
            }
        }
    }
    assert_eq!(
        app.lookups(),
        0,
        "no request reached the cache or the store"
    );

    // The broken store does catch real reads.
    let r = app.get(&format!("/v/{id}/master.m3u8"), &[]).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.code(), "storage_error");
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn raw_nul_and_overlong_request_lines_are_refused() {
    let app = spawn_app().await;
    let id = VideoId::new();
    let r = app
        .raw(
            format!("GET /v/{id}/v1/a\0.mp4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
    assert_eq!(r.status, 400);
    let long = format!("/v/{id}/{}", "x/".repeat(20_000));
    let r = app.get(&long, &[]).await;
    assert!(
        r.status == 400 || r.status == 414 || r.status == 431,
        "{}",
        r.status
    );
    assert_eq!(app.lookups(), 0);
}
