//! A video still encoding (its playback record says `live`): the MPD entry
//! point redirects to the live version's MPD, keeping the query; that MPD
//! and the media playlists are read past every cache with a one-second
//! lifetime, filtered and token-rewritten per request; the live copy's
//! audio segments are `audio/mp4`.

use crate::helpers::{spawn_app, viewer, Published, TestApp};
use goflix_shared::domain::Visibility;
use goflix_shared::layout;
use goflix_shared::store::ObjectStore;
use std::time::{Duration, Instant};

const LIVE: &str = "public, max-age=1";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A dynamic MPD over two video rungs and audio, listing `segments` segments.
fn live_mpd(segments: u32) -> String {
    let representation = |id: &str, height: u32| {
        format!(
            r#"<Representation id="{id}" bandwidth="800000" width="{}" height="{height}" codecs="avc1.64001e"><SegmentTemplate timescale="1000" initialization="{id}_init.mp4" media="{id}_$Number%05d$.mp4" startNumber="0"><SegmentTimeline><S t="0" d="2000" r="{}"/></SegmentTimeline></SegmentTemplate></Representation>"#,
            height * 16 / 9,
            segments - 1
        )
    };
    format!(
        "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" minimumUpdatePeriod=\"PT2S\">\
         <Period id=\"0\"><AdaptationSet contentType=\"video\" maxHeight=\"720\">{}{}</AdaptationSet></Period></MPD>\n",
        representation("720p", 720),
        representation("360p", 360),
    )
}

async fn go_live(app: &TestApp, p: &Published, visibility: Visibility, mpd: &str) {
    let key = layout::media_file(p.video, &p.version, "manifest.mpd").unwrap();
    app.store
        .put_bytes(&key, mpd.to_owned().into_bytes().into())
        .await
        .unwrap();
    app.set_live_record(p.video, &p.version, visibility).await;
}

#[tokio::test]
async fn the_mpd_entry_point_redirects_to_the_live_version() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    go_live(&app, &p, Visibility::Public, &live_mpd(2)).await;
    for method in ["GET", "HEAD"] {
        let r = app.request(method, &p.mpd_path(), &[]).await;
        assert_eq!(r.status, 302, "{method}");
        assert_eq!(
            r.header("location"),
            Some(format!("{}/manifest.mpd", p.version).as_str())
        );
        assert_eq!(r.header("cache-control"), Some(LIVE));
    }
    let r = app
        .get(&format!("{}?max_height=360", p.mpd_path()), &[])
        .await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/manifest.mpd?max_height=360", p.version).as_str())
    );
    // The HLS entry point still answers itself: the live master never changes.
    assert_eq!(app.get(&p.master_path(), &[]).await.status, 200);
}

#[tokio::test]
async fn the_live_mpd_grows_past_the_caches_and_filters_per_request() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    go_live(&app, &p, Visibility::Public, &live_mpd(2)).await;
    let path = p.path("manifest.mpd");
    let r = app.get(&path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), live_mpd(2));
    assert_eq!(r.header("cache-control"), Some(LIVE));
    let filtered = app.get(&format!("{path}?max_height=360"), &[]).await;
    assert_eq!(filtered.status, 200);
    assert!(
        !filtered.text().contains(r#"id="720p""#),
        "{}",
        filtered.text()
    );
    assert!(filtered.text().contains(r#"r="1""#));

    // A new segment: every variant shows it at once, gzip included.
    go_live(&app, &p, Visibility::Public, &live_mpd(3)).await;
    assert_eq!(app.get(&path, &[]).await.text(), live_mpd(3));
    let filtered = app.get(&format!("{path}?max_height=360"), &[]).await;
    assert!(filtered.text().contains(r#"r="2""#), "{}", filtered.text());
    let gzip = app.get(&path, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(gzip.sized_body()),
        &mut text,
    )
    .unwrap();
    assert_eq!(text, live_mpd(3));

    // Finished: the encode wrote the static MPD and the record is no
    // longer live. The entry point serves that MPD once the record it
    // holds expires, and the version's files are immutable again.
    let key = layout::media_file(p.video, &p.version, "manifest.mpd").unwrap();
    app.store
        .put_bytes(&key, p.mpd.clone().into_bytes().into())
        .await
        .unwrap();
    app.set_record(p.video, &p.version, Visibility::Public)
        .await;
    let started = Instant::now();
    let entry = loop {
        let r = app.get(&p.mpd_path(), &[]).await;
        if r.status != 302 {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the entry point still redirects to the live MPD"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(entry.status, 200);
    assert_eq!(entry.text(), p.mpd);
    assert_eq!(entry.header("location"), None);
    assert_eq!(
        entry.header("cache-control"),
        Some("public, max-age=2, stale-while-revalidate=30")
    );
    for (file, body) in [("manifest.mpd", &p.mpd), ("720p.m3u8", &p.media_playlist)] {
        let r = app.get(&p.path(file), &[]).await;
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.text(), *body, "{file}");
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE), "{file}");
    }
}

#[tokio::test]
async fn a_private_live_mpd_carries_the_token_into_its_templates() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Private).await;
    go_live(&app, &p, Visibility::Private, &live_mpd(2)).await;
    let (token, _) = app
        .issuer
        .issue_playback(p.video, &viewer(), Duration::from_secs(600))
        .unwrap();
    let r = app
        .get(&format!("{}?token={token}", p.mpd_path()), &[])
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let location = r.header("location").unwrap().to_owned();
    assert_eq!(
        location,
        format!("{}/manifest.mpd?token={token}", p.version)
    );
    let r = app.get(&format!("/v/{}/{location}", p.video), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let text = r.text();
    let token = token.replace('=', "%3D");
    for needle in [
        format!(r#"initialization="360p_init.mp4?token={token}""#),
        format!(r#"media="360p_$Number%05d$.mp4?token={token}""#),
    ] {
        assert!(text.contains(&needle), "{needle} missing in {text}");
    }
    // Without the token: refused, and no redirect either.
    assert_eq!(app.get(&p.mpd_path(), &[]).await.status, 403);
}

#[tokio::test]
async fn live_audio_segments_are_audio() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    for name in ["audio_init.mp4", "audio_00003.mp4"] {
        let key = layout::media_file(p.video, &p.version, name).unwrap();
        app.store
            .put_bytes(&key, b"segment".to_vec().into())
            .await
            .unwrap();
        let r = app.get(&p.path(name), &[]).await;
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some("audio/mp4"), "{name}");
    }
}
