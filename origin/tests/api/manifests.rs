//! Manifests: the unversioned entry points follow the playback record with
//! a short cache lifetime, versioned playlists are immutable, brotli and
//! gzip are negotiated with `Vary: Accept-Encoding`.

use crate::helpers::spawn_app;
use goflix_shared::domain::Visibility;
use goflix_shared::layout;
use goflix_shared::store::ObjectStore;
use std::io::Read;
use std::time::{Duration, Instant};

const SHORT: &str = "public, max-age=2, stale-while-revalidate=30";

/// The longest a replaced playback record may still be served.
const RECORD_MAX_AGE: Duration = Duration::from_millis(2100);

#[tokio::test]
async fn master_and_mpd_follow_the_playback_record_with_short_caching() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let r = app.get(&p.master_path(), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), p.master);
    assert_eq!(r.sized_body().len(), p.master.len());
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(r.header("cache-control"), Some(SHORT));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert!(r.header("etag").is_some() && r.header("last-modified").is_some());

    let r = app.get(&p.mpd_path(), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), p.mpd);
    assert_eq!(r.header("content-type"), Some("application/dash+xml"));
    assert_eq!(r.header("cache-control"), Some(SHORT));

    // Conditional requests work on manifests too.
    let etag = app
        .get(&p.master_path(), &[])
        .await
        .header("etag")
        .unwrap()
        .to_string();
    let r = app.get(&p.master_path(), &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status, 304);
}

#[tokio::test]
async fn versioned_playlists_are_immutable() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Unlisted).await;
    let r = app.get(&p.path("720p.m3u8"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), p.media_playlist);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
}

#[tokio::test]
async fn a_new_version_is_served_once_the_record_moves() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    assert_eq!(app.get(&p.master_path(), &[]).await.text(), p.master);
    let version = layout::new_version();
    let master = format!("#EXTM3U\n{version}/720p.m3u8\n");
    let key = layout::media_file(p.video, &version, "master.m3u8").unwrap();
    app.store
        .put_bytes(&key, master.clone().into())
        .await
        .unwrap();
    app.set_record(p.video, &version, Visibility::Public).await;
    // The record is cached for at most two seconds.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.get(&p.master_path(), &[]).await.text(), master);
    // The old version stays reachable under its own path.
    assert_eq!(app.get(&p.path("master.m3u8"), &[]).await.text(), p.master);
}

#[tokio::test]
async fn manifests_are_compressed_as_negotiated() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let plain = app.get(&p.mpd_path(), &[]).await;
    let gz = app
        .get(&p.mpd_path(), &[("Accept-Encoding", "br;q=0.5, gzip")])
        .await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert_ne!(gz.header("etag"), plain.header("etag"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz.sized_body())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, p.mpd);

    // Brotli wins a tie, with a tag of its own, served again from the cache.
    for _ in 0..2 {
        let br = app
            .get(&p.mpd_path(), &[("Accept-Encoding", "gzip, deflate, br")])
            .await;
        assert_eq!(br.status, 200);
        assert_eq!(br.header("content-encoding"), Some("br"));
        assert_eq!(br.header("vary"), Some("Accept-Encoding"));
        assert!(br.header("etag").unwrap().ends_with("-br\""));
        assert_ne!(br.header("etag"), gz.header("etag"));
        let mut text = String::new();
        brotli::Decompressor::new(br.sized_body(), 4096)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, p.mpd);
        assert!(br.sized_body().len() < gz.sized_body().len());
        let etag = br.header("etag").unwrap().to_string();
        let revalidated = app
            .get(
                &p.mpd_path(),
                &[("Accept-Encoding", "br"), ("If-None-Match", &etag)],
            )
            .await;
        assert_eq!(revalidated.status, 304);
    }

    // Refused codings, and media, stay identity-coded.
    for refused in ["gzip;q=0", "br;q=0", "gzip;q=0, br;q=0, *"] {
        let r = app
            .get(&p.mpd_path(), &[("Accept-Encoding", refused)])
            .await;
        assert_eq!(r.header("content-encoding"), None, "{refused}");
        assert_eq!(r.text(), p.mpd);
    }
    let r = app
        .get(&p.path("720p.mp4"), &[("Accept-Encoding", "br, gzip")])
        .await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.sized_body(), &p.video_bytes[..]);
}

#[tokio::test]
async fn unknown_videos_and_missing_records_are_404() {
    let app = spawn_app().await;
    let unknown = goflix_shared::domain::VideoId::new();
    for path in [
        format!("/v/{unknown}/master.m3u8"),
        format!("/v/{unknown}/manifest.mpd"),
        format!("/v/{unknown}/v1/720p.mp4"),
    ] {
        let r = app.get(&path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.code(), "not_found");
        assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
    }
    // Media without a playback record is not served either.
    let p = app.publish(Visibility::Public).await;
    std::fs::remove_file(app.root.join(layout::playback_record(p.video).as_str())).unwrap();
    let r = app.get(&p.path("720p.mp4"), &[]).await;
    // The record may still be cached for up to two seconds.
    assert!(r.status == 200 || r.status == 404);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.get(&p.path("720p.mp4"), &[]).await.status, 404);
}

/// The origin keeps parsed playback records in process; that tier must not
/// stretch how long a re-publish or a visibility change goes unseen: the
/// new record is served within two seconds of its write, and once a request
/// got the new version no later request gets the old one.
#[tokio::test]
async fn republish_and_visibility_changes_are_never_served_stale() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    // Warm every tier, across several refreshes of the in-process one.
    let warm_until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < warm_until {
        assert_eq!(app.get(&p.master_path(), &[]).await.text(), p.master);
    }

    let version = layout::new_version();
    let master = format!("#EXTM3U\n{version}/720p.m3u8\n");
    let key = layout::media_file(p.video, &version, "master.m3u8").unwrap();
    app.store
        .put_bytes(&key, master.clone().into())
        .await
        .unwrap();
    app.set_record(p.video, &version, Visibility::Public).await;
    let written = Instant::now();
    let mut seen_new = false;
    while written.elapsed() < RECORD_MAX_AGE {
        let text = app.get(&p.master_path(), &[]).await.text();
        if seen_new {
            assert_eq!(text, master, "the old version came back");
        } else {
            assert!(text == p.master || text == master, "{text}");
            seen_new = text == master;
        }
    }
    for _ in 0..20 {
        assert_eq!(app.get(&p.master_path(), &[]).await.text(), master);
    }

    // Turning the video private closes it to token-less requests as quickly.
    app.set_record(p.video, &version, Visibility::Private).await;
    let written = Instant::now();
    let mut seen_closed = false;
    while written.elapsed() < RECORD_MAX_AGE {
        let status = app.get(&p.master_path(), &[]).await.status;
        if seen_closed {
            assert_eq!(status, 403, "the video opened again");
        } else {
            assert!(status == 200 || status == 403, "{status}");
            seen_closed = status == 403;
        }
    }
    for path in [p.master_path(), p.path("720p.mp4"), p.path("720p.m3u8")] {
        let r = app.get(&path, &[]).await;
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(r.code(), "forbidden");
    }
}
