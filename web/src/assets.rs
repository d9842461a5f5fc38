//! `GET|HEAD /assets/{file}`: the embedded assets under their hashed names,
//! `immutable` for a year, in brotli or gzip when the request accepts it
//! (compressed once at build time), with a strong `ETag` and `304` for a
//! matching `If-None-Match`. Unknown names get a plain 404.

use crate::policy;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

/// One embedded asset.
#[derive(Debug)]
pub struct Asset {
    /// The name pages refer to it by (`console.js`).
    pub logical: &'static str,
    /// The served name, with a digest of its bytes (`console.3f2a….js`).
    pub file: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The bytes as they are.
    pub identity: &'static [u8],
    /// The bytes gzip-compressed.
    pub gzip: &'static [u8],
    /// The bytes brotli-compressed.
    pub brotli: &'static [u8],
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

impl Asset {
    /// The asset pages call `logical`; panics for a name `build.rs` did not embed.
    pub fn named(logical: &str) -> &'static Asset {
        ASSETS
            .iter()
            .find(|asset| asset.logical == logical)
            .unwrap_or_else(|| panic!("no embedded asset {logical}"))
    }

    /// Every embedded asset.
    pub fn all() -> &'static [Asset] {
        ASSETS
    }

    /// Its URL path.
    pub fn path(&self) -> String {
        format!("/assets/{}", self.file)
    }
}

/// Mounts `/assets/{file}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/assets/{file}")
            .route(web::get().to(serve))
            .route(web::head().to(serve)),
    );
}

/// A content coding of the stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The best coding `accept_encoding` allows (a coding with `q=0` is refused).
    fn negotiate(accept_encoding: Option<&str>) -> Coding {
        let accepts = |wanted: &str| {
            accept_encoding.is_some_and(|value| {
                value.split(',').any(|item| {
                    let mut parts = item.split(';').map(str::trim);
                    let name = parts.next().unwrap_or_default();
                    let refused = parts.any(|p| {
                        p.strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            .is_some_and(|q| q <= 0.0)
                    });
                    name.eq_ignore_ascii_case(wanted) && !refused
                })
            })
        };
        if accepts("br") {
            Coding::Brotli
        } else if accepts("gzip") {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }
}

async fn serve(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let Some(asset) = ASSETS.iter().find(|asset| asset.file == file.as_str()) else {
        return policy::secured(HttpResponse::NotFound())
            .content_type("text/plain; charset=utf-8")
            .body("no such asset\n");
    };
    let etag = format!("\"{}\"", digest_of(asset.file));
    let coding = Coding::negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let mut response = policy::secured(HttpResponse::Ok());
    response
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::ETAG, etag.clone()));
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if matches {
        return response
            .status(actix_web::http::StatusCode::NOT_MODIFIED)
            .finish();
    }
    let body = match coding {
        Coding::Brotli => {
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("br")));
            asset.brotli
        }
        Coding::Gzip => {
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
            asset.gzip
        }
        Coding::Identity => asset.identity,
    };
    response.content_type(asset.content_type).body(body)
}

/// The digest part of a hashed file name (`console.3f2a….js` → `3f2a…`).
fn digest_of(file: &str) -> &str {
    file.rsplit('.').nth(1).unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_brotli_and_honours_q_zero() {
        assert_eq!(Coding::negotiate(Some("gzip, deflate, br")), Coding::Brotli);
        assert_eq!(Coding::negotiate(Some("gzip, br;q=0")), Coding::Gzip);
        assert_eq!(
            Coding::negotiate(Some("br;q=0, gzip;q=0")),
            Coding::Identity
        );
        assert_eq!(Coding::negotiate(None), Coding::Identity);
        assert_eq!(Coding::negotiate(Some("identity")), Coding::Identity);
    }

    #[test]
    fn every_asset_has_a_hashed_name_and_all_three_codings() {
        for asset in Asset::all() {
            let digest = digest_of(asset.file);
            assert_eq!(digest.len(), 16, "{}", asset.file);
            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(
                !asset.identity.is_empty() && !asset.gzip.is_empty() && !asset.brotli.is_empty()
            );
        }
    }

    #[test]
    fn scripts_import_each_other_by_hashed_name() {
        for asset in Asset::all().iter().filter(|a| a.file.ends_with(".js")) {
            let text = String::from_utf8_lossy(asset.identity);
            for other in Asset::all() {
                let plain = format!("\"./{}\"", other.logical);
                assert!(
                    !text.contains(&plain),
                    "{} imports {plain} unhashed",
                    asset.logical
                );
            }
        }
    }
}
