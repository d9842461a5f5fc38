//! Text written into manifests from names, languages and labels that come
//! from uploads: escaped for DASH's XML ([`xml`]) and cleaned for HLS
//! quoted-string attributes ([`hls_quoted`]). The transcoder's manifests,
//! the control plane's manifest-only versions and the web pages (HTML
//! shares XML's escapes) all write through here.

/// Escapes XML text and attribute values; control characters (which XML
/// 1.0 mostly forbids) become spaces.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` as an HLS quoted string may hold it: no `"`, line breaks or
/// other control characters (RFC 8216 §4.2).
pub fn hls_quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_blanks_control_characters() {
        assert_eq!(xml(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(xml("line\nbreak\u{7}"), "line break ");
    }

    #[test]
    fn an_hls_quoted_string_holds_no_quote_or_line_break() {
        assert_eq!(hls_quoted("say \"hi\"\r\n"), "say 'hi'  ");
        assert_eq!(hls_quoted("Français"), "Français");
    }
}
