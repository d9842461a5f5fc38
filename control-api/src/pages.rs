//! The pages people open in a browser, served beside `/api/v1`: the console
//! at `/`, `/watch/{id}`, `/embed/{id}`, their assets (`goflix_web`) and
//! oEmbed at `/oembed` (<https://oembed.com>), so pasting a watch page's URL
//! into a CMS embeds the player. A private or unknown video looks the same
//! to everyone here: its pages carry no title, no discovery link, may not be
//! framed, and oEmbed answers 404; its script learns more only through the
//! API, signed in.

use crate::db::video;
use crate::error::ApiError;
use crate::public_url;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use goflix_shared::domain::{RenditionKind, VideoId, Visibility};
use goflix_shared::layout::POSTER;
use goflix_web::VideoPage;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

/// Embed width when the consumer sets no `maxwidth`.
const DEFAULT_EMBED_WIDTH: u32 = 640;

/// Mounts the pages, their assets and `/oembed`.
pub(crate) fn configure(state: web::Data<AppState>, cfg: &mut web::ServiceConfig) {
    goflix_web::configure(cfg);
    cfg.service(web::resource("/").route(web::get().to(console)))
        .service(
            web::resource("/watch/{id}")
                .app_data(state.clone())
                .route(web::get().to(watch)),
        )
        .service(
            web::resource("/embed/{id}")
                .app_data(state.clone())
                .route(web::get().to(embed)),
        )
        .service(
            web::resource("/oembed")
                .app_data(state)
                .route(web::get().to(oembed)),
        );
}

async fn console() -> HttpResponse {
    goflix_web::console()
}

/// What a page may say about video `id`: `None` when `id` is no video id.
async fn shared_video(
    state: &AppState,
    id: &str,
) -> Result<Option<(VideoId, Option<video::Model>)>, ApiError> {
    let Ok(parsed) = id.parse::<VideoId>() else {
        return Ok(None);
    };
    let row = video::Entity::find_by_id(parsed.0)
        .one(&state.db)
        .await?
        .filter(|row| row.visibility != Visibility::Private);
    Ok(Some((parsed, row)))
}

/// The poster path of a shared, published video.
fn poster(id: VideoId, row: &video::Model) -> Option<String> {
    row.version
        .as_ref()
        .map(|version| format!("/v/{id}/{version}/{POSTER}"))
}

/// The two pages with a player.
#[derive(Debug, Clone, Copy)]
enum PlayerPage {
    Watch,
    Embed,
}

async fn watch(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    player_page(&state, &req, &id, PlayerPage::Watch).await
}

async fn embed(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    player_page(&state, &req, &id, PlayerPage::Embed).await
}

/// `kind` for video `id`: a shared video's embed may be framed as
/// `GOFLIX_FRAME_ANCESTORS` allows, any other page by nobody.
async fn player_page(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    kind: PlayerPage,
) -> Result<HttpResponse, ApiError> {
    let base = public_url::base(state, req)?;
    let Some((id, row)) = shared_video(state, id).await? else {
        return Ok(not_found_page());
    };
    let id_text = id.to_string();
    let poster = row.as_ref().and_then(|row| poster(id, row));
    let page = VideoPage {
        id: &id_text,
        base: &base,
        shared_title: row.as_ref().map(|row| row.title.as_str()),
        poster: poster.as_deref(),
    };
    Ok(match kind {
        PlayerPage::Watch => goflix_web::watch(&page),
        PlayerPage::Embed => {
            goflix_web::embed(&page, row.is_some().then_some(&state.frame_ancestors))
        }
    })
}

/// A plain 404 for page paths that cannot name a video.
fn not_found_page() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type("text/plain; charset=utf-8")
        .body("No such page.\n")
}

/// `GET /oembed` parameters (oEmbed 1.0, section 2.2).
#[derive(Debug, Deserialize)]
struct OembedQuery {
    url: Option<String>,
    format: Option<String>,
    maxwidth: Option<u32>,
    maxheight: Option<u32>,
}

/// An oEmbed 1.0 `video` response.
#[derive(Debug, Serialize)]
struct Oembed {
    version: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    title: String,
    provider_name: &'static str,
    provider_url: String,
    html: String,
    width: u32,
    height: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbnail_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbnail_width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbnail_height: Option<u32>,
}

async fn oembed(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<OembedQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if query
        .format
        .as_deref()
        .is_some_and(|format| format != "json")
    {
        // oEmbed 1.0: an unsupported format is 501.
        return Ok(HttpResponse::NotImplemented()
            .content_type("text/plain; charset=utf-8")
            .body("only format=json is offered\n"));
    }
    let base = public_url::base(&state, &req)?;
    let url = query
        .url
        .ok_or_else(|| ApiError::bad_request("invalid_query", "the url parameter is required"))?;
    let not_found = || ApiError::not_found("no embeddable video at that URL");
    let id = watched_id(&base, &url).ok_or_else(not_found)?;
    let (id, row) = shared_video(&state, id).await?.ok_or_else(not_found)?;
    let row = row.ok_or_else(not_found)?;
    let renditions: Vec<goflix_shared::domain::Rendition> =
        serde_json::from_value(row.renditions.clone()).unwrap_or_default();
    let top = renditions
        .iter()
        .filter(|r| r.kind == RenditionKind::Video)
        .filter_map(|r| Some((r.width?, r.height?)))
        .max_by_key(|(width, _)| *width);
    let (source_width, source_height) = top.unwrap_or((16, 9));
    let (width, height) = fit(
        (source_width, source_height),
        query.maxwidth.unwrap_or(DEFAULT_EMBED_WIDTH).max(1),
        query.maxheight,
    );
    let embed_url = format!("{base}/embed/{id}");
    let html = format!(
        "<iframe src=\"{}\" width=\"{width}\" height=\"{height}\" title=\"{}\" frameborder=\"0\" \
         allow=\"autoplay; fullscreen; picture-in-picture\" allowfullscreen></iframe>",
        goflix_web::escape(&embed_url),
        goflix_web::escape(&row.title),
    );
    let thumbnail = poster(id, &row);
    let body = Oembed {
        version: "1.0",
        kind: "video",
        title: row.title.clone(),
        provider_name: "Goflix",
        provider_url: format!("{base}/"),
        html,
        width,
        height,
        thumbnail_width: thumbnail.as_ref().and(top.map(|(w, _)| w)),
        thumbnail_height: thumbnail.as_ref().and(top.map(|(_, h)| h)),
        thumbnail_url: thumbnail
            .filter(|_| top.is_some())
            .map(|path| format!("{base}{path}")),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(body))
}

/// The video id of a watch or embed page URL under `base`, if `url` is one.
fn watched_id<'a>(base: &str, url: &'a str) -> Option<&'a str> {
    let rest = url.strip_prefix(base)?;
    let rest = rest.split(['?', '#']).next()?;
    rest.strip_prefix("/watch/")
        .or_else(|| rest.strip_prefix("/embed/"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// `source` scaled to at most `max_width` × `max_height`, keeping its shape.
fn fit(source: (u32, u32), max_width: u32, max_height: Option<u32>) -> (u32, u32) {
    let (w, h) = (u64::from(source.0.max(1)), u64::from(source.1.max(1)));
    let mut width = u64::from(max_width).min(w.max(u64::from(max_width)));
    let mut height = (width * h).div_ceil(w);
    if let Some(max_height) = max_height.map(|m| u64::from(m.max(1))) {
        if height > max_height {
            height = max_height;
            width = (height * w / h).max(1);
        }
    }
    (
        u32::try_from(width).unwrap_or(u32::MAX),
        u32::try_from(height).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_watch_and_embed_pages_under_the_base_are_embeddable() {
        let base = "https://media.example.com";
        assert_eq!(
            watched_id(base, "https://media.example.com/watch/abc"),
            Some("abc")
        );
        assert_eq!(
            watched_id(base, "https://media.example.com/embed/abc?start=3"),
            Some("abc")
        );
        assert_eq!(
            watched_id(base, "https://media.example.com.evil/watch/abc"),
            None
        );
        assert_eq!(watched_id(base, "https://other.example/watch/abc"), None);
        assert_eq!(
            watched_id(base, "https://media.example.com/watch/a/b"),
            None
        );
        assert_eq!(
            watched_id(base, "https://media.example.com/api/v1/videos/abc"),
            None
        );
    }

    #[test]
    fn the_embed_keeps_the_shape_within_the_limits() {
        assert_eq!(fit((1920, 1080), 640, None), (640, 360));
        assert_eq!(fit((1920, 1080), 640, Some(180)), (320, 180));
        assert_eq!(fit((1080, 1920), 640, Some(400)), (225, 400));
    }
}
