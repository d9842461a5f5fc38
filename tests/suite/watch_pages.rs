//! The watch page, the embed page and oEmbed against `goflix serve`, in
//! headless Chromium (`e2e/watch.mjs`): a ready video plays past 3 s,
//! switches quality, seeks from a storyboard thumbnail and answers keys; a
//! video still encoding plays; a private video refuses anonymous viewers
//! and plays for its owner with storyboard and poster; the embed plays in
//! an `<iframe>` of another origin; the policy blocks injected inline
//! script; a failed video's page says why; axe-core finds nothing serious,
//! also at 360 px wide. oEmbed answers the 1.0 fields,
//! 404 for private videos and 501 for formats other than JSON.

use crate::common::pages::ServedPages;
use crate::common::{clip, noisy_clip};
use serde_json::{json, Value};
use std::time::Duration;

/// The `Content-Security-Policy` of `path`.
async fn policy(served: &ServedPages, path: &str) -> String {
    let response = served
        .client
        .get(format!("{}{path}", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn oembed(served: &ServedPages, url: &str, format: &str) -> reqwest::Response {
    served
        .client
        .get(format!("{}/oembed", served.base))
        .query(&[("url", url), ("format", format)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_video_plays_embeds_and_turns_private() {
    let served = ServedPages::start(&[]).await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "watch.mp4", "1280x720", 16, true);
    let id = served
        .upload("Watch <me> & \"quote\"", &source, "public")
        .await;
    let ready = served
        .api()
        .wait_settled(&id, Duration::from_secs(240), String::new)
        .await;
    assert_eq!(ready["state"], "ready", "{ready}");

    // The watch page names its oEmbed document; the document has the 1.0 fields.
    let html = served.get_text(&format!("/watch/{id}")).await;
    assert!(
        html.contains("<title>Watch &lt;me&gt; &amp; &quot;quote&quot; · Goflix</title>"),
        "{html}"
    );
    let page_url = format!("{}/watch/{id}", served.base);
    let discovery = html
        .split("<link rel=\"alternate\" type=\"application/json+oembed\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an oEmbed discovery link")
        .replace("&amp;", "&");
    let document: Value = served
        .client
        .get(&discovery)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["version"], "1.0");
    assert_eq!(document["type"], "video");
    assert_eq!(document["title"], "Watch <me> & \"quote\"");
    assert_eq!(document["provider_name"], "Goflix");
    let (width, height) = (
        document["width"].as_u64().unwrap(),
        document["height"].as_u64().unwrap(),
    );
    assert_eq!((width, height), (640, 360), "{document}");
    let embed_html = document["html"].as_str().unwrap();
    assert!(
        embed_html.starts_with(&format!(
            "<iframe src=\"{}/embed/{id}\" width=\"640\" height=\"360\"",
            served.base
        )),
        "{embed_html}"
    );
    assert!(
        embed_html.contains("title=\"Watch &lt;me&gt; &amp; &quot;quote&quot;\""),
        "{embed_html}"
    );
    let thumbnail = document["thumbnail_url"].as_str().unwrap();
    assert!(document["thumbnail_width"].is_u64() && document["thumbnail_height"].is_u64());
    let poster = served.client.get(thumbnail).send().await.unwrap();
    assert_eq!(poster.status(), 200);
    assert_eq!(poster.headers()["content-type"], "image/jpeg");
    let smaller: Value = served
        .client
        .get(format!("{}/oembed", served.base))
        .query(&[("url", page_url.as_str()), ("maxwidth", "320")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (smaller["width"].clone(), smaller["height"].clone()),
        (json!(320), json!(180))
    );
    assert_eq!(oembed(&served, &page_url, "xml").await.status(), 501);
    let elsewhere = format!("https://elsewhere.example/watch/{id}");
    assert_eq!(oembed(&served, &elsewhere, "json").await.status(), 404);

    // Pages: nobody frames the watch page; anyone (the default) frames a public embed.
    assert!(policy(&served, &format!("/watch/{id}"))
        .await
        .ends_with("frame-ancestors 'none'"));
    assert!(policy(&served, &format!("/embed/{id}"))
        .await
        .ends_with("frame-ancestors *"));

    let mut screenshots = Vec::new();
    for scenario in ["play", "embed", "csp"] {
        let report = served.run("watch.mjs", &[scenario, &id]);
        assert_eq!(report["ok"], true, "{report}");
        screenshots.extend(
            report["screenshots"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }

    // Private: no oEmbed, the embed may not be framed, the page says nothing.
    let status = served
        .api()
        .client
        .patch(format!("{}/api/v1/videos/{id}", served.base))
        .bearer_auth(&served.token)
        .json(&json!({"visibility": "private"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(oembed(&served, &page_url, "json").await.status(), 404);
    assert!(policy(&served, &format!("/embed/{id}"))
        .await
        .ends_with("frame-ancestors 'none'"));
    let private_html = served.get_text(&format!("/watch/{id}")).await;
    assert!(
        !private_html.contains("Watch &lt;me") && !private_html.contains("oembed"),
        "{private_html}"
    );
    let report = served.run("watch.mjs", &["private", &id]);
    assert_eq!(report["ok"], true, "{report}");
    screenshots.extend(
        report["screenshots"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    eprintln!("screenshots: {screenshots:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_page_plays_a_video_while_it_encodes() {
    let served = ServedPages::start(&[]).await;
    let media = tempfile::tempdir().unwrap();
    // Noise keeps x264 busy long enough for the page to join mid-encode.
    let source = noisy_clip(media.path(), "growing.mp4", 40, 30);
    let id = served.upload("Growing", &source, "public").await;
    let playable = served
        .api()
        .wait_for(
            &id,
            ("playable", Duration::from_secs(120)),
            |video| {
                video["playable"] == true || video["state"] == "failed" || video["state"] == "ready"
            },
            String::new,
        )
        .await;
    assert_eq!(playable["state"], "processing", "{playable}");
    let report = served.run("watch.mjs", &["live", &id]);
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embed_policy_follows_the_setting_and_failed_or_unknown_videos_say_so() {
    let served = ServedPages::start(&[
        ("GOFLIX_FRAME_ANCESTORS", "'self'  https://blog.example.com"),
        ("GOFLIX_PUBLIC_URL", "https://media.example.com"),
    ])
    .await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "tiny.mp4", "320x180", 2, false);
    let id = served.upload("Framed", &source, "unlisted").await;
    let embed = policy(&served, &format!("/embed/{id}")).await;
    assert!(
        embed.ends_with("frame-ancestors 'self' https://blog.example.com"),
        "{embed}"
    );
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
    ] {
        assert!(embed.contains(directive), "{embed}");
    }
    // Absolute URLs are under GOFLIX_PUBLIC_URL, whatever the request's Host.
    let html = served.get_text(&format!("/watch/{id}")).await;
    let page_url = format!("https://media.example.com/watch/{id}");
    assert!(
        html.contains(&format!(
            "href=\"https://media.example.com/oembed?url=https%3A%2F%2Fmedia.example.com%2Fwatch%2F{id}&amp;format=json\""
        )),
        "{html}"
    );
    let document: Value = oembed(&served, &page_url, "json")
        .await
        .json()
        .await
        .unwrap();
    let embed_html = document["html"].as_str().unwrap();
    assert!(
        embed_html.contains(&format!("src=\"https://media.example.com/embed/{id}\"")),
        "{document}"
    );
    assert_eq!(document["provider_url"], "https://media.example.com/");
    let own_host = format!("{}/watch/{id}", served.base);
    assert_eq!(oembed(&served, &own_host, "json").await.status(), 404);

    let unknown = policy(&served, "/embed/0190c0de-0000-7000-8000-000000000001").await;
    assert!(unknown.ends_with("frame-ancestors 'none'"), "{unknown}");
    // A master that is no media fails; its watch page says so.
    let junk = media.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x5a; 64 * 1024]).unwrap();
    let failed = served.upload("Junk", &junk, "public").await;
    let settled = served
        .api()
        .wait_settled(&failed, Duration::from_secs(60), String::new)
        .await;
    assert_eq!(settled["state"], "failed", "{settled}");
    let report = served.run("watch.mjs", &["failed", &failed]);
    assert_eq!(report["ok"], true, "{report}");

    let malformed = served
        .client
        .get(format!("{}/watch/..%2Fapi", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 404);
}
