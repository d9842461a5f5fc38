//! Manifest modifiers: `?max_height=` and `?min_height=` filter the
//! variants of the multivariant entry points, are cached per variant set of
//! a version (not per request or token), validate their numbers, and compose
//! with token rewriting and gzip.

use crate::helpers::{spawn_app, viewer, Published, TestApp};
use crate::private::encode;
use goflix_shared::domain::Visibility;
use goflix_shared::layout;
use goflix_shared::store::ObjectStore;
use std::io::Read;
use std::time::Duration;

/// Replaces the published manifests with a three-rung ladder (1080p, 720p, 360p).
async fn publish_ladder(app: &TestApp, visibility: Visibility) -> (Published, String, String) {
    let p = app.publish(visibility).await;
    let v = &p.version;
    let master = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"audio\",DEFAULT=YES,URI=\"{v}/audio.m3u8\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=5000000,CODECS=\"avc1.640028,mp4a.40.2\",RESOLUTION=1920x1080,AUDIO=\"aud\"\n{v}/1080p.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=2800000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"aud\"\n{v}/720p.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,AUDIO=\"aud\"\n{v}/360p.m3u8\n"
    );
    let rep = |name: &str, width: u32, height: u32| {
        format!(
            "      <Representation id=\"{name}\" bandwidth=\"1\" width=\"{width}\" height=\"{height}\" codecs=\"avc1.64001f\">\n\
             \x20       <BaseURL>{v}/{name}.mp4</BaseURL>\n      </Representation>\n"
        )
    };
    let mpd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">\n\
         \x20 <Period id=\"0\">\n    <AdaptationSet id=\"0\" contentType=\"video\" maxWidth=\"1920\" maxHeight=\"1080\">\n\
         {}{}{}    </AdaptationSet>\n    <AdaptationSet id=\"1\" contentType=\"audio\">\n\
         \x20     <Representation id=\"audio\" bandwidth=\"1\" codecs=\"mp4a.40.2\">\n\
         \x20       <BaseURL>{v}/audio.mp4</BaseURL>\n      </Representation>\n    </AdaptationSet>\n  </Period>\n</MPD>\n",
        rep("1080p", 1920, 1080),
        rep("720p", 1280, 720),
        rep("360p", 640, 360),
    );
    for (name, body) in [("master.m3u8", &master), ("manifest.mpd", &mpd)] {
        let key = layout::media_file(p.video, v, name).unwrap();
        app.store
            .put_bytes(&key, body.clone().into_bytes().into())
            .await
            .unwrap();
    }
    (p, master, mpd)
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn max_and_min_height_filter_hls_and_dash_variants() {
    let app = spawn_app().await;
    let (p, master, mpd) = publish_ladder(&app, Visibility::Public).await;

    let r = app
        .get(&format!("{}?max_height=720", p.master_path()), &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=2, stale-while-revalidate=30")
    );
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let body = String::from_utf8(r.sized_body().to_vec()).unwrap();
    let without_1080 = master.replace(
        &format!(
            "#EXT-X-STREAM-INF:BANDWIDTH=5000000,CODECS=\"avc1.640028,mp4a.40.2\",RESOLUTION=1920x1080,AUDIO=\"aud\"\n{}/1080p.m3u8\n",
            p.version
        ),
        "",
    );
    assert_eq!(body, without_1080);

    let r = app
        .get(
            &format!("{}?min_height=361&max_height=1080", p.master_path()),
            &[],
        )
        .await;
    let body = r.text();
    assert!(body.contains("/1080p.m3u8\n") && body.contains("/720p.m3u8\n"));
    assert!(!body.contains("360p"));
    assert!(body.contains("/audio.m3u8\""), "audio group kept");

    let r = app
        .get(&format!("{}?max_height=360", p.mpd_path()), &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/dash+xml"));
    let body = r.text();
    assert!(body.contains("<Representation id=\"360p\""));
    assert!(body.contains("<Representation id=\"audio\""));
    assert!(!body.contains("720p") && !body.contains("1080p"));
    assert!(body.contains("maxWidth=\"640\" maxHeight=\"360\""));

    // A filter keeping everything serves the stored manifest, same ETag.
    let full = app.get(&p.mpd_path(), &[]).await;
    let kept_all = app
        .get(
            &format!("{}?min_height=1&max_height=4320", p.mpd_path()),
            &[],
        )
        .await;
    assert_eq!(kept_all.text(), mpd);
    assert_eq!(kept_all.header("etag"), full.header("etag"));

    // HEAD answers as GET; gzip is the filtered manifest compressed.
    let path = format!("{}?max_height=720", p.master_path());
    let get = app.get(&path, &[("Accept-Encoding", "gzip")]).await;
    let head = app.head(&path, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(get.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(get.sized_body()), without_1080);
    assert_eq!(get.entity_headers(), head.entity_headers());
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn filtered_manifests_are_cached_per_variant_set_with_validators() {
    let app = spawn_app().await;
    let (p, _, _) = publish_ladder(&app, Visibility::Public).await;
    let a = app
        .get(&format!("{}?max_height=720", p.master_path()), &[])
        .await;
    // Different numbers, same variants: the same entry and ETag.
    let b = app
        .get(
            &format!("{}?max_height=1000&min_height=200&x=1", p.master_path()),
            &[],
        )
        .await;
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("etag"), b.header("etag"));
    let full = app.get(&p.master_path(), &[]).await;
    assert_ne!(a.header("etag"), full.header("etag"));

    // A repeat is served from the cache: the stored master is not re-read.
    let key = layout::media_file(p.video, &p.version, "master.m3u8").unwrap();
    app.store
        .put_bytes(&key, b"#EXTM3U\n#changed\n".to_vec().into())
        .await
        .unwrap();
    let again = app
        .get(&format!("{}?max_height=1079", p.master_path()), &[])
        .await;
    assert_eq!(again.body, a.body);

    let etag = a.header("etag").unwrap();
    let r = app
        .get(
            &format!("{}?max_height=720", p.master_path()),
            &[("If-None-Match", etag)],
        )
        .await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
}

#[tokio::test]
async fn bad_modifier_values_are_400_bad_query() {
    let app = spawn_app().await;
    let (p, _, _) = publish_ladder(&app, Visibility::Public).await;
    let lookups = app.lookups();
    for query in [
        "max_height=",
        "max_height=abc",
        "max_height=-360",
        "max_height=360p",
        "max_height=0",
        "max_height=99999",
        "max_height=184467440737095516160",
        "min_height=720&max_height=360",
        "max_height=360&max_height=720",
        "max_height=%FF",
    ] {
        for path in [p.master_path(), p.mpd_path()] {
            let r = app.get(&format!("{path}?{query}"), &[]).await;
            assert_eq!(r.status, 400, "{path}?{query}");
            assert_eq!(r.code(), "bad_query");
        }
    }
    assert_eq!(
        app.lookups(),
        lookups,
        "refused before any cache or storage call"
    );
}

#[tokio::test]
async fn a_filter_leaving_no_video_variant_is_404_no_matching_variant() {
    let app = spawn_app().await;
    let (p, _, _) = publish_ladder(&app, Visibility::Public).await;
    for path in [
        format!("{}?max_height=359", p.master_path()),
        format!("{}?min_height=1081", p.mpd_path()),
        format!("{}?min_height=400&max_height=700", p.master_path()),
    ] {
        let r = app.get(&path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.code(), "no_matching_variant");
        assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
    }
}

#[tokio::test]
async fn modifiers_compose_with_token_rewriting() {
    let app = spawn_app().await;
    let (p, _, _) = publish_ladder(&app, Visibility::Private).await;
    let (token, _) = app
        .issuer
        .issue_playback(p.video, &viewer(), Duration::from_secs(3600))
        .unwrap();
    let (other, _) = app
        .issuer
        .issue_playback(p.video, &viewer(), Duration::from_secs(3600))
        .unwrap();
    let bearer = format!("Bearer {other}");
    let (token, other) = (encode(&token), encode(&other));
    let r = app
        .get(&format!("{}?max_height=720", p.master_path()), &[])
        .await;
    assert_eq!(r.status, 403, "the filter does not bypass the token check");

    let r = app
        .get(
            &format!("{}?max_height=720&token={token}", p.master_path()),
            &[("Accept-Encoding", "gzip")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let body = gunzip(r.sized_body());
    assert!(!body.contains("1080p"));
    assert!(body.contains(&format!("/720p.m3u8?token={token}\n")));
    assert!(body.contains(&format!("/360p.m3u8?token={token}\n")));
    assert!(body.contains(&format!("/audio.m3u8?token={token}\"")));
    // Brotli, compressed per request: the same rewritten manifest.
    let r = app
        .get(
            &format!("{}?max_height=720&token={token}", p.master_path()),
            &[("Accept-Encoding", "br")],
        )
        .await;
    assert_eq!(r.header("content-encoding"), Some("br"));
    let mut unbrotli = String::new();
    std::io::Read::read_to_string(
        &mut brotli::Decompressor::new(r.sized_body(), 4096),
        &mut unbrotli,
    )
    .unwrap();
    assert_eq!(unbrotli, body);

    // Another token gets the same filtered variant with its own token only.
    let r = app
        .get(
            &format!("{}?min_height=720&token={other}", p.mpd_path()),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(!body.contains("360p") && !body.contains(&token));
    assert!(body.contains(&format!("/720p.mp4?token={other}</BaseURL>")));
    assert!(body.contains(&format!("/1080p.mp4?token={other}</BaseURL>")));
    // One in the Authorization header is never written into the URIs.
    let r = app
        .get(
            &format!("{}?min_height=720", p.mpd_path()),
            &[("Authorization", &bearer)],
        )
        .await;
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(!body.contains("360p") && !body.contains("token="));
    assert!(body.contains("/1080p.mp4</BaseURL>"));
}

#[tokio::test]
async fn versioned_playlists_ignore_modifiers() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let r = app
        .get(&format!("{}?max_height=bad", p.path("720p.m3u8")), &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), p.media_playlist);
}
