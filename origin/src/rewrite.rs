//! Carrying a playback token into manifests: every relative URI of an HLS
//! playlist (URI lines and `URI="…"` attributes), every `<BaseURL>` and
//! `SegmentTemplate` `media`/`initialization` template of a DASH MPD, and
//! every cue payload of the storyboard's WebVTT cues (a URL into
//! `storyboard.jpg` with an `#xywh=` fragment) gets `token=…` appended to
//! its query, before any fragment. Runs on the cached base
//! manifest, its result remembered for that token alone
//! ([`crate::tokened`]), and only for a token the request sent as
//! `?token=` (never one from the `Authorization` header; see
//! `crate::auth`).
//!
//! Absolute URIs (with a scheme or `//host`) and `data:` URIs are left
//! alone, so a token never leaks to another host.

/// Percent-encodes everything but RFC 3986 unreserved characters; the result
/// is also safe inside XML text and HLS quoted strings.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Appends `token=` (already percent-encoded) to every relative URI of an HLS playlist.
pub fn hls(playlist: &str, encoded_token: &str) -> String {
    let mut out = String::with_capacity(playlist.len() + 64 * encoded_token.len());
    for line in playlist.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        if content.starts_with('#') {
            out.push_str(&rewrite_uri_attributes(content, encoded_token));
        } else if content.trim().is_empty() {
            out.push_str(content);
        } else {
            let start = content.len() - content.trim_start().len();
            let end = content.trim_end().len();
            out.push_str(&content[..start]);
            out.push_str(&with_token(&content[start..end], encoded_token, "&"));
            out.push_str(&content[end..]);
        }
        out.push_str(ending);
    }
    out
}

/// Rewrites each `URI="…"` attribute of a tag line: only a whole
/// attribute name counts (`URI=`, not `FOO-URI=`).
fn rewrite_uri_attributes(line: &str, encoded_token: &str) -> String {
    let whole = |before: Option<u8>| before.is_none_or(|b| matches!(b, b':' | b','));
    rewrite_attributes(line, "URI", whole, encoded_token, "&")
}

/// Appends `token=` (joined with `separator`) to the value of every
/// `name="…"` attribute whose preceding byte (`None` at the start) passes
/// `whole`.
fn rewrite_attributes(
    text: &str,
    name: &str,
    whole: impl Fn(Option<u8>) -> bool,
    encoded_token: &str,
    separator: &str,
) -> String {
    let pattern = format!("{name}=\"");
    let mut out = String::with_capacity(text.len() + 4 * encoded_token.len());
    let mut rest = text;
    while let Some(at) = rest.find(&pattern) {
        let rewrite = whole(at.checked_sub(1).map(|i| rest.as_bytes()[i]));
        let value_start = at + pattern.len();
        out.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        let Some(close) = rest.find('"') else {
            break;
        };
        if rewrite {
            out.push_str(&with_token(&rest[..close], encoded_token, separator));
        } else {
            out.push_str(&rest[..close]);
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// Appends `token=` to the text of every `<BaseURL>` element of an MPD and
/// to every `media="…"` and `initialization="…"` URL template.
pub fn dash(mpd: &str, encoded_token: &str) -> String {
    let rewritten = base_urls(mpd, encoded_token);
    let rewritten = xml_attributes(&rewritten, "media", encoded_token);
    xml_attributes(&rewritten, "initialization", encoded_token)
}

/// Appends `token=` to the text of every `<BaseURL>` element.
fn base_urls(mpd: &str, encoded_token: &str) -> String {
    const OPEN: &str = "<BaseURL";
    const CLOSE: &str = "</BaseURL>";
    let mut out = String::with_capacity(mpd.len() + 16 * encoded_token.len());
    let mut rest = mpd;
    while let Some(at) = rest.find(OPEN) {
        let after_name = &rest[at + OPEN.len()..];
        // `<BaseURL>` or `<BaseURL attr="…">`, not `<BaseURLs…>`.
        if !after_name.starts_with(['>', ' ', '\t', '\r', '\n']) {
            out.push_str(&rest[..at + OPEN.len()]);
            rest = after_name;
            continue;
        }
        let (Some(gt), Some(close)) = (after_name.find('>'), after_name.find(CLOSE)) else {
            break;
        };
        if close < gt || after_name[..gt].ends_with('/') {
            out.push_str(&rest[..at + OPEN.len()]);
            rest = after_name;
            continue;
        }
        let text_start = at + OPEN.len() + gt + 1;
        let text_end = at + OPEN.len() + close;
        out.push_str(&rest[..text_start]);
        out.push_str(&with_token(
            &rest[text_start..text_end],
            encoded_token,
            "&amp;",
        ));
        rest = &rest[text_end..];
    }
    out.push_str(rest);
    out
}

/// Appends `token=` to the value of every `name="…"` XML attribute (a
/// whole name: after whitespace).
fn xml_attributes(xml: &str, name: &str, encoded_token: &str) -> String {
    let whole = |before: Option<u8>| before.is_some_and(|b| b.is_ascii_whitespace());
    rewrite_attributes(xml, name, whole, encoded_token, "&amp;")
}

/// Appends `token=` to every relative URL of a storyboard's WebVTT cues:
/// each payload line of a cue (a line after its `-->` timing line, up to
/// the blank line ending the cue) is one URL. Header, note, style and
/// region blocks have no timing line and are left alone.
pub fn storyboard(cues: &str, encoded_token: &str) -> String {
    let mut out = String::with_capacity(cues.len() + 32 * encoded_token.len());
    let mut in_payload = false;
    for line in cues.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        let url = content.trim();
        if url.is_empty() {
            in_payload = false;
            out.push_str(content);
        } else if in_payload {
            let start = content.len() - content.trim_start().len();
            out.push_str(&content[..start]);
            out.push_str(&with_token(url, encoded_token, "&"));
            out.push_str(&content[start + url.len()..]);
        } else {
            in_payload = content.contains("-->");
            out.push_str(content);
        }
        out.push_str(ending);
    }
    out
}

/// `uri` with `token=` appended to its query (before any fragment), using
/// `separator` (`&` or its XML escape) when a query already exists.
fn with_token(uri: &str, encoded_token: &str, separator: &str) -> String {
    if !is_relative(uri) {
        return uri.to_owned();
    }
    let (base, fragment) = match uri.find('#') {
        Some(at) => uri.split_at(at),
        None => (uri, ""),
    };
    let joiner = if base.contains('?') { separator } else { "?" };
    format!("{base}{joiner}token={encoded_token}{fragment}")
}

fn is_relative(uri: &str) -> bool {
    let uri = uri.trim();
    if uri.is_empty() || uri.starts_with("//") {
        return false;
    }
    // A scheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'
    // before any '/', '?' or '#'.
    match uri.find([':', '/', '?', '#']) {
        Some(at) if uri.as_bytes()[at] == b':' => {
            let scheme = &uri[..at];
            !(scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_percent_encoded() {
        assert_eq!(encode_component("a+b/c=d&e f"), "a%2Bb%2Fc%3Dd%26e%20f");
        assert_eq!(encode_component("Zz09-._~"), "Zz09-._~");
    }

    #[test]
    fn hls_uri_lines_and_attributes_get_the_token() {
        let master = "#EXTM3U\r\n#EXT-X-INDEPENDENT-SEGMENTS\r\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"v1/audio.m3u8\"\r\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aud\"\r\n\
            v1/720p.m3u8\r\n\r\n";
        let out = hls(master, "t%2B1");
        assert_eq!(
            out,
            "#EXTM3U\r\n#EXT-X-INDEPENDENT-SEGMENTS\r\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"v1/audio.m3u8?token=t%2B1\"\r\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aud\"\r\n\
            v1/720p.m3u8?token=t%2B1\r\n\r\n"
        );
        let media = "#EXTM3U\n#EXT-X-MAP:URI=\"720p.mp4\",BYTERANGE=\"800@0\"\n\
            #EXTINF:4.0,\n#EXT-X-BYTERANGE:1000@800\n720p.mp4\n#EXT-X-ENDLIST\n";
        let out = hls(media, "T");
        assert!(out.contains("#EXT-X-MAP:URI=\"720p.mp4?token=T\",BYTERANGE=\"800@0\"\n"));
        assert!(out.contains("\n720p.mp4?token=T\n#EXT-X-ENDLIST\n"));
        assert_eq!(out.matches("token=").count(), 2);
    }

    #[test]
    fn absolute_uris_and_other_attributes_are_left_alone() {
        let playlist = "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k\"\n\
            #EXT-X-FOO:X-URI=\"a\"\nhttps://cdn.example/a.mp4\n//cdn.example/b.mp4\nc.mp4?x=1\n";
        let out = hls(playlist, "T");
        assert_eq!(
            out,
            "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k\"\n\
            #EXT-X-FOO:X-URI=\"a\"\nhttps://cdn.example/a.mp4\n//cdn.example/b.mp4\nc.mp4?x=1&token=T\n"
        );
    }

    #[test]
    fn dash_segment_templates_get_the_token() {
        let mpd = r#"<SegmentTemplate timescale="1000" initialization="360p_init.mp4" media="360p_$Number%05d$.mp4?a=1" startNumber="0"><Foo xmedia="x" mimeType="video/mp4" media="https://cdn.example/$Number$.mp4"/>"#;
        assert_eq!(
            dash(mpd, "T"),
            r#"<SegmentTemplate timescale="1000" initialization="360p_init.mp4?token=T" media="360p_$Number%05d$.mp4?a=1&amp;token=T" startNumber="0"><Foo xmedia="x" mimeType="video/mp4" media="https://cdn.example/$Number$.mp4"/>"#
        );
    }

    #[test]
    fn dash_base_urls_get_the_token() {
        let mpd = "<MPD><Period><AdaptationSet><Representation id=\"720p\">\
            <BaseURL>v1/720p.mp4</BaseURL></Representation>\
            <Representation><BaseURL serviceLocation=\"a\">v1/a.mp4?x=1</BaseURL>\
            <BaseURL/></Representation></AdaptationSet></Period></MPD>";
        let out = dash(mpd, "T%2F");
        assert_eq!(
            out,
            "<MPD><Period><AdaptationSet><Representation id=\"720p\">\
            <BaseURL>v1/720p.mp4?token=T%2F</BaseURL></Representation>\
            <Representation><BaseURL serviceLocation=\"a\">v1/a.mp4?x=1&amp;token=T%2F</BaseURL>\
            <BaseURL/></Representation></AdaptationSet></Period></MPD>"
        );
    }

    #[test]
    fn storyboard_cues_get_the_token_before_the_fragment() {
        let cues = "WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nstoryboard.jpg#xywh=0,0,160,90\n\n\
            1\r\n00:00:05.000 --> 00:00:10.000\r\nstoryboard.jpg?v=1#xywh=160,0,160,90\r\n\r\n\
            00:00:10.000 --> 00:00:15.000\nhttps://cdn.example/s.jpg#xywh=0,90,160,90\n";
        assert_eq!(
            storyboard(cues, "T%2B"),
            "WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nstoryboard.jpg?token=T%2B#xywh=0,0,160,90\n\n\
            1\r\n00:00:05.000 --> 00:00:10.000\r\nstoryboard.jpg?v=1&token=T%2B#xywh=160,0,160,90\r\n\r\n\
            00:00:10.000 --> 00:00:15.000\nhttps://cdn.example/s.jpg#xywh=0,90,160,90\n"
        );
    }

    #[test]
    fn storyboard_header_and_note_blocks_are_left_alone() {
        let cues =
            "WEBVTT - storyboard\nKind: metadata\n\nNOTE made by goflix\nsee storyboard.jpg\n\n\
            cue-1\n00:00.000 --> 00:05.000\nstoryboard.jpg#xywh=0,0,1,1\n";
        let out = storyboard(cues, "T");
        assert_eq!(out.matches("token=").count(), 1);
        assert!(out.starts_with("WEBVTT - storyboard\nKind: metadata\n\nNOTE made by goflix\nsee storyboard.jpg\n\ncue-1\n"));
        assert!(out.ends_with("\nstoryboard.jpg?token=T#xywh=0,0,1,1\n"));
    }

    proptest! {
        #[test]
        fn rewriting_never_panics_and_only_adds(text in "\\PC{0,300}", token in "[A-Za-z0-9+/=_-]{0,40}") {
            let encoded = encode_component(&token);
            let h = hls(&text, &encoded);
            prop_assert!(h.len() >= text.len());
            let d = dash(&text, &encoded);
            prop_assert!(d.len() >= text.len());
            let v = storyboard(&text, &encoded);
            prop_assert!(v.len() >= text.len());
        }

        #[test]
        fn every_hls_uri_line_carries_the_token(names in proptest::collection::vec("[a-z0-9_]{1,12}\\.mp4", 1..20)) {
            let playlist = names.iter().map(|n| format!("#EXTINF:4.0,\n{n}\n")).collect::<String>();
            let out = hls(&playlist, "T");
            for line in out.lines().filter(|l| !l.starts_with('#')) {
                prop_assert!(line.ends_with("?token=T"));
            }
        }
    }
}
