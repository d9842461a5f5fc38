//! The security headers of every page and asset: a strict
//! Content-Security-Policy (our own scripts and styles only, no inline
//! script or style, media and workers also from `blob:` as the players
//! need, no request to another host), `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: same-origin`, and who may frame the page
//! (`frame-ancestors`): nobody for the console and the watch page, the
//! configured [`FrameAncestors`] for the embed page of a shared video.

use actix_web::http::header;
use actix_web::HttpResponseBuilder;
use goflix_shared::config::frame_ancestors::FrameAncestors;

/// Everything but who may frame the page.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; media-src 'self' blob:; worker-src 'self' blob:; \
    connect-src 'self'; base-uri 'none'; form-action 'self'";

/// `builder` with the headers every response of this crate carries.
pub(crate) fn secured(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    builder
}

/// `builder` as an HTML page under the policy, framed only by `ancestors`
/// (`None`: by nobody).
pub(crate) fn page(
    builder: HttpResponseBuilder,
    ancestors: Option<&FrameAncestors>,
) -> HttpResponseBuilder {
    let mut builder = secured(builder);
    let frame = ancestors.map_or("'none'", FrameAncestors::as_str);
    builder
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!("{POLICY}; frame-ancestors {frame}"),
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("text/html; charset=utf-8");
    if ancestors.is_none() {
        builder.insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
    builder
}
