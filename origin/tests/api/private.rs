//! Private videos: a playback token is required, responses are
//! `private, no-store`, and manifests carry the token into their URIs.

use crate::helpers::{spawn_app, spawn_app_without_verifier, viewer};
use goflix_shared::domain::{VideoId, Visibility};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn private_videos_without_a_valid_token_are_403() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Private).await;
    let (other_video_token, _) = app
        .issuer
        .issue_playback(VideoId::new(), &viewer(), HOUR)
        .unwrap();
    let (expired, _) = app
        .issuer
        .issue_playback(p.video, &viewer(), Duration::ZERO)
        .unwrap();
    let viewer = app
        .issuer
        .issue_access(VideoId::new().0, goflix_shared::token::Role::Viewer, HOUR)
        .unwrap();
    for path in [
        p.master_path(),
        p.mpd_path(),
        p.path("720p.mp4"),
        p.path("720p.m3u8"),
    ] {
        let r = app.get(&path, &[]).await;
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(r.code(), "forbidden");
        assert_eq!(r.header("cache-control"), Some("no-store"));
        for token in [
            &other_video_token,
            &expired,
            &viewer,
            &"garbage".to_string(),
        ] {
            let r = app.get(&format!("{path}?token={token}"), &[]).await;
            assert_eq!(r.status, 403, "{path}");
            let r = app
                .get(&path, &[("Authorization", &format!("Bearer {token}"))])
                .await;
            assert_eq!(r.status, 403, "{path}");
        }
    }
}

#[tokio::test]
async fn playback_tokens_open_private_videos_and_flow_into_manifests() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Private).await;
    let (token, _) = app.issuer.issue_playback(p.video, &viewer(), HOUR).unwrap();
    let encoded = encode(&token);
    let query = format!("?token={encoded}");

    let r = app.get(&format!("{}{query}", p.master_path()), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let master = r.text();
    assert!(master.contains(&format!("URI=\"{}/audio.m3u8?token={encoded}\"", p.version)));
    assert!(master.contains(&format!("\n{}/720p.m3u8?token={encoded}\n", p.version)));

    // The bearer header works too, and the token still flows into the URIs.
    let r = app
        .get(
            &p.path("720p.m3u8"),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    let playlist = r.text();
    assert!(playlist.contains(&format!("#EXT-X-MAP:URI=\"720p.mp4?token={encoded}\"")));
    assert_eq!(
        playlist
            .matches(&format!("\n720p.mp4?token={encoded}\n"))
            .count(),
        2
    );

    let r = app.get(&format!("{}{query}", p.mpd_path()), &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&format!(
        "<BaseURL>{}/720p.mp4?token={encoded}</BaseURL>",
        p.version
    )));

    let r = app
        .get(
            &format!("{}{query}", p.path("720p.mp4")),
            &[("Range", "bytes=0-9")],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.sized_body(), &p.video_bytes[..10]);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));

    // The cached base manifest was not altered by the rewriting.
    let (other, _) = app.issuer.issue_playback(p.video, &viewer(), HOUR).unwrap();
    let r = app
        .get(
            &format!("{}?token={}", p.master_path(), encode(&other)),
            &[],
        )
        .await;
    assert!(!r.text().contains(&encoded));
}

#[tokio::test]
async fn admin_access_tokens_play_nothing() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Private).await;
    let admin = app
        .issuer
        .issue_access(VideoId::new().0, goflix_shared::token::Role::Admin, HOUR)
        .unwrap();
    let r = app
        .get(
            &p.master_path(),
            &[("Authorization", &format!("Bearer {admin}"))],
        )
        .await;
    assert_eq!(r.status, 403, "the origin takes playback tokens only");
}

#[tokio::test]
async fn public_videos_ignore_tokens_and_without_a_verifier_private_is_refused() {
    let app = spawn_app_without_verifier().await;
    let public = app.publish(Visibility::Public).await;
    let r = app
        .get(&format!("{}?token=whatever", public.master_path()), &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), public.master);
    let private = app.publish(Visibility::Private).await;
    let (token, _) = app
        .issuer
        .issue_playback(private.video, &viewer(), HOUR)
        .unwrap();
    let r = app
        .get(
            &format!("{}?token={}", private.master_path(), encode(&token)),
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
}

/// Percent-encodes a token for a query string.
pub fn encode(token: &str) -> String {
    token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
