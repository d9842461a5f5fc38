//! The HTML of the three pages. They carry no inline script or style (the
//! policy forbids both): each page names its stylesheet and scripts by
//! their hashed asset paths and hands the video id to its script in a
//! `data-` attribute. Text from users (a video's title) is escaped.

use crate::assets::Asset;
use crate::policy;
use actix_web::HttpResponse;
use goflix_shared::config::frame_ancestors::FrameAncestors;
use std::fmt::Write as _;

/// What a watch or embed page says about its video before its script runs.
#[derive(Debug)]
pub struct VideoPage<'a> {
    /// The video's id, already checked to be a UUID.
    pub id: &'a str,
    /// The public base URL (`https://media.example.com`, no trailing slash)
    /// of the absolute URLs the page names.
    pub base: &'a str,
    /// Its title, when anyone may see it (public and unlisted videos);
    /// `None` for private and unknown videos, whose page learns more only
    /// once its script has signed in.
    pub shared_title: Option<&'a str>,
    /// Its poster's path, when shared and ready.
    pub poster: Option<&'a str>,
}

/// The console (`/`): sign-in, videos, users, clients and webhooks.
pub fn console() -> HttpResponse {
    let mut html = head("Goflix", &["console.css"], &["tus.js"], "console.js");
    html.push_str(
        "</head><body class=\"console\"><div id=\"app\"><noscript>The Goflix console needs JavaScript.</noscript></div></body></html>\n",
    );
    policy::page(HttpResponse::Ok(), None).body(html)
}

/// `/watch/{id}`: the player with the title and, for a shared video, the
/// oEmbed discovery link and Open Graph tags.
pub fn watch(video: &VideoPage<'_>) -> HttpResponse {
    let title = video.shared_title.unwrap_or("Video");
    let mut html = head(&format!("{title} · Goflix"), &[], &["hls.js"], "watch.js");
    let page_url = format!("{}/watch/{}", video.base, video.id);
    if let Some(shared) = video.shared_title {
        let oembed = format!(
            "{}/oembed?url={}&format=json",
            video.base,
            encode_component(&page_url)
        );
        let _ = write!(
            html,
            "<link rel=\"alternate\" type=\"application/json+oembed\" href=\"{}\" title=\"{}\">\
             <link rel=\"canonical\" href=\"{}\">\
             <meta property=\"og:type\" content=\"video.other\">\
             <meta property=\"og:title\" content=\"{}\">\
             <meta property=\"og:url\" content=\"{}\">",
            escape(&oembed),
            escape(shared),
            escape(&page_url),
            escape(shared),
            escape(&page_url),
        );
        if let Some(poster) = video.poster {
            let _ = write!(
                html,
                "<meta property=\"og:image\" content=\"{}\">",
                escape(&format!("{}{poster}", video.base))
            );
        }
    }
    let _ = write!(
        html,
        "</head><body class=\"watch\"><header class=\"bar\"><a class=\"brand\" href=\"/\">Goflix</a></header>\
         <main id=\"watch\" data-video-id=\"{id}\"><div id=\"player\" class=\"player\"></div>\
         <h1 id=\"title\">{title}</h1><p id=\"status\" role=\"status\" aria-live=\"polite\"></p></main></body></html>",
        id = escape(video.id),
        title = escape(title),
    );
    policy::page(HttpResponse::Ok(), None).body(html)
}

/// `/embed/{id}`: the player alone, framed by `ancestors` (`None`: by nobody).
pub fn embed(video: &VideoPage<'_>, ancestors: Option<&FrameAncestors>) -> HttpResponse {
    let title = video.shared_title.unwrap_or("Video");
    let mut html = head(&format!("{title} · Goflix"), &[], &["hls.js"], "embed.js");
    let _ = write!(
        html,
        "</head><body class=\"embed\"><main id=\"embed\" data-video-id=\"{}\" aria-label=\"{}\">\
         <div id=\"player\" class=\"player\"></div></main></body></html>",
        escape(video.id),
        escape(title),
    );
    policy::page(HttpResponse::Ok(), ancestors).body(html)
}

/// `<!doctype html>` up to (not including) `</head>`: the common stylesheet
/// and `styles`, `libraries` as classic
/// deferred scripts and `module` (all run in this order, after parsing).
fn head(title: &str, styles: &[&str], libraries: &[&str], module: &str) -> String {
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"icon\" href=\"{}\"><link rel=\"stylesheet\" href=\"{}\">",
        escape(title),
        Asset::named("icon.svg").path(),
        Asset::named("app.css").path(),
    );
    for style in styles {
        let _ = write!(
            html,
            "<link rel=\"stylesheet\" href=\"{}\">",
            Asset::named(style).path()
        );
    }
    for library in libraries {
        let _ = write!(
            html,
            "<script defer src=\"{}\"></script>",
            Asset::named(library).path()
        );
    }
    let _ = write!(
        html,
        "<script type=\"module\" src=\"{}\"></script>",
        Asset::named(module).path()
    );
    html
}

/// `text` safe in HTML text and in quoted attributes (the escapes of XML,
/// which HTML shares).
pub fn escape(text: &str) -> String {
    goflix_shared::escape::xml(text)
}

/// Percent-encodes all but RFC 3986 unreserved characters (a query value).
fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(response: HttpResponse) -> String {
        let bytes = response.into_body().try_into_bytes().expect("a whole body");
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn titles_are_escaped_and_shared_videos_are_discoverable() {
        let page = VideoPage {
            id: "0190c0de-0000-7000-8000-000000000001",
            base: "https://media.example.com",
            shared_title: Some("<script>alert(1)</script> & \"quotes\""),
            poster: Some("/v/x/1/poster.jpg"),
        };
        let html = body(watch(&page));
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
        assert!(html.contains(
            "href=\"https://media.example.com/oembed?url=https%3A%2F%2Fmedia.example.com%2Fwatch%2F0190c0de-0000-7000-8000-000000000001&amp;format=json\""
        ));
        assert!(html.contains("content=\"https://media.example.com/v/x/1/poster.jpg\""));
    }

    #[test]
    fn private_pages_say_nothing_about_the_video() {
        let page = VideoPage {
            id: "0190c0de-0000-7000-8000-000000000001",
            base: "https://media.example.com",
            shared_title: None,
            poster: None,
        };
        let html = body(watch(&page));
        assert!(!html.contains("oembed") && !html.contains("og:"));
    }

    #[test]
    fn pages_have_no_inline_script() {
        let page = VideoPage {
            id: "x",
            base: "http://h",
            shared_title: Some("t"),
            poster: None,
        };
        for html in [
            body(console()),
            body(watch(&page)),
            body(embed(&page, None)),
        ] {
            for script in html.split("<script").skip(1) {
                let tag_end = script.find('>').unwrap();
                assert!(script[..tag_end].contains(" src=\"/assets/"), "{script}");
                assert!(script[tag_end + 1..].starts_with("</script>"), "{script}");
            }
            assert!(!html.contains("style=") && !html.contains("<style"));
        }
    }
}
