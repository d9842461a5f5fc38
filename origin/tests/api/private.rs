//! Private videos: a playback token is required, responses are
//! `private, no-store`, and manifests carry the token into their URIs.

use crate::helpers::{
    spawn_app, spawn_app_without_revocation_feed, spawn_app_without_verifier, viewer,
};
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

    let r = app
        .get(&format!("{}{query}", p.path("720p.m3u8")), &[])
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

    // The bearer header works too, and is never written into the URIs:
    // the client sends it with every request itself.
    for path in [p.master_path(), p.path("720p.m3u8"), p.mpd_path()] {
        for coding in ["identity", "br"] {
            let r = app
                .get(
                    &path,
                    &[
                        ("Authorization", &format!("Bearer {token}")),
                        ("Accept-Encoding", coding),
                    ],
                )
                .await;
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(r.header("cache-control"), Some("private, no-store"));
            if coding == "identity" {
                assert!(!r.text().contains("token="), "{path}: {}", r.text());
            }
        }
    }

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

#[tokio::test]
async fn tokens_of_a_revoked_session_are_refused_within_seconds() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Private).await;
    let (revoked, kept) = (viewer(), viewer());
    let (token, _) = app.issuer.issue_playback(p.video, &revoked, HOUR).unwrap();
    let (other, _) = app.issuer.issue_playback(p.video, &kept, HOUR).unwrap();
    let path = |token: &str| format!("{}?token={}", p.master_path(), encode(token));
    assert_eq!(app.get(&path(&token), &[]).await.status, 200);

    app.revoke_sessions(&[revoked.session.unwrap()]).await;
    let started = std::time::Instant::now();
    while app.get(&path(&token), &[]).await.status != 403 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the revoked session still plays"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for file in ["720p.mp4", "720p.m3u8"] {
        let r = app
            .get(
                &p.path(file),
                &[("Authorization", &format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(r.status, 403, "{file}");
    }
    assert_eq!(app.get(&path(&other), &[]).await.status, 200);
}

#[tokio::test]
async fn private_videos_wait_for_a_first_revocation_feed() {
    let app = spawn_app_without_revocation_feed().await;
    let private = app.publish(Visibility::Private).await;
    let public = app.publish(Visibility::Public).await;
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
    assert_eq!(r.status, 503, "fail closed while revocations are unknown");
    assert_eq!(r.code(), "revocations_unknown");
    assert_eq!(r.header("retry-after"), Some("5"));
    // Public videos need no token and play on.
    assert_eq!(app.get(&public.master_path(), &[]).await.status, 200);
    // Once the control plane published a feed, the token plays.
    app.revoke_sessions(&[]).await;
    let started = std::time::Instant::now();
    while app
        .get(
            &format!("{}?token={}", private.master_path(), encode(&token)),
            &[],
        )
        .await
        .status
        != 200
    {
        assert!(started.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_remembered_token_stops_at_its_expiry_and_opens_no_other_video() {
    let app = spawn_app().await;
    let (p, other) = (
        app.publish(Visibility::Private).await,
        app.publish(Visibility::Private).await,
    );
    let (token, expires_at) = app
        .issuer
        .issue_playback(p.video, &viewer(), Duration::from_secs(2))
        .unwrap();
    let query = format!("?token={}", encode(&token));
    for path in [p.master_path(), p.path("720p.m3u8"), p.path("720p.mp4")] {
        assert_eq!(app.get(&format!("{path}{query}"), &[]).await.status, 200);
        // Remembered for this video, and worth nothing for another.
        let elsewhere = path.replace(&p.video.to_string(), &other.video.to_string());
        let r = app.get(&format!("{elsewhere}{query}"), &[]).await;
        assert_eq!(r.status, 403, "{elsewhere}");
    }
    let left = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
    for path in [p.master_path(), p.path("720p.m3u8"), p.path("720p.mp4")] {
        let r = app.get(&format!("{path}{query}"), &[]).await;
        assert_eq!(r.status, 403, "{path} after the token expired");
    }
}
