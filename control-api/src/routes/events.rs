//! `GET /api/v1/events`: one Server-Sent-Events stream per caller with the
//! applied events (`AppState::applied`, see [`crate::events`]) of every
//! video the caller may list — the scope of `GET /api/v1/videos`, videos
//! created after the stream opened included. Unlike a video's own stream
//! (`GET /api/v1/videos/{id}/events`, [`super::jobs`]) it does not end
//! with a job: it opens with `retry: 3000`, sends a `: keep-alive` comment
//! every [`KEEP_ALIVE`] so proxies keep it open, and ends when the
//! caller's access token expires (a client reconnects with a fresh one).
//!
//! Whether an event's video is in scope is looked up in the database the
//! first time the stream sees the video and remembered for
//! [`SCOPE_RECHECK`]: visibility changes are no events, so an answer is
//! read again after that, and a video made private stops reaching viewers
//! within it.
//!
//! Also the SSE framing both streams share ([`message`], [`response`]).

use crate::auth::{Caller, VideoScope};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::web;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::Stream;
use goflix_shared::domain::VideoId;
use goflix_shared::events::Event;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Pause between keep-alive comments.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a stream trusts its answer to "may this caller see that video".
pub(crate) const SCOPE_RECHECK: Duration = Duration::from_secs(2);

/// Answers a stream remembers before it forgets the stale ones.
const REMEMBERED: usize = 1024;

/// The first bytes of the stream: reconnect after 3 s.
const RETRY: &[u8] = b"retry: 3000\n\n";

/// A comment line, ignored by clients, that keeps proxies from closing the stream.
const KEEP_ALIVE_COMMENT: &[u8] = b": keep-alive\n\n";

/// The applied events of every video the caller may list (admins: all;
/// uploaders: their own; viewers: public ones), as Server-Sent Events:
/// `event:` is the event type, `data:` its JSON, as on
/// `GET /videos/{id}/events`. Starts with `retry: 3000`, sends a
/// `: keep-alive` comment every 15 s and ends when the access token
/// expires; reconnect with a fresh token. A client that falls behind skips
/// events.
#[utoipa::path(
    get,
    path = "/events",
    tag = "videos",
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = super::openapi::SseMessage),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn events(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let left = (caller.expires_at() - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let listening = Listening {
        receiver: state.applied.subscribe(),
        scope: caller.video_scope(),
        db: state.db.clone(),
        answers: HashMap::new(),
        keep_alive,
        ends: Instant::now() + left,
    };
    let first = futures_util::stream::once(async { Ok(Bytes::from_static(RETRY)) });
    let rest = futures_util::stream::unfold(listening, next_message);
    Ok(response(futures_util::StreamExt::chain(first, rest)))
}

/// A caller's open stream.
struct Listening {
    receiver: broadcast::Receiver<Event>,
    scope: VideoScope,
    db: DatabaseConnection,
    /// Whether the scope lists a video, and when that was read.
    answers: HashMap<VideoId, (bool, Instant)>,
    keep_alive: Interval,
    /// When the caller's token expires.
    ends: Instant,
}

impl Listening {
    /// Whether the caller may see the events of `video`.
    async fn shows(&mut self, video: VideoId) -> Result<bool, ApiError> {
        let now = Instant::now();
        if let Some(&(listed, read_at)) = self.answers.get(&video) {
            if now.duration_since(read_at) < SCOPE_RECHECK {
                return Ok(listed);
            }
        }
        let listed = self.scope.lists(&self.db, video.0).await?;
        if self.answers.len() >= REMEMBERED {
            self.answers
                .retain(|_, (_, read_at)| now.duration_since(*read_at) < SCOPE_RECHECK);
        }
        self.answers.insert(video, (listed, now));
        Ok(listed)
    }
}

/// The next message of the stream (an event or a keep-alive); `None` ends it.
async fn next_message(mut listening: Listening) -> Option<(Result<Bytes, ApiError>, Listening)> {
    loop {
        let received = tokio::select! {
            _ = tokio::time::sleep_until(listening.ends) => return None,
            _ = listening.keep_alive.tick() => {
                return Some((Ok(Bytes::from_static(KEEP_ALIVE_COMMENT)), listening));
            }
            received = listening.receiver.recv() => received,
        };
        match received {
            Ok(event) => match listening.shows(event.video_id).await {
                Ok(true) => return Some((Ok(message(&event)), listening)),
                Ok(false) => {}
                Err(error) => return Some((Err(error), listening)),
            },
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "event stream fell behind");
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// One SSE message: `event: <type>`, `data: <JSON>`.
pub(super) fn message(event: &Event) -> Bytes {
    let json = serde_json::to_string(event).expect("events serialise");
    Bytes::from(format!("event: {}\ndata: {json}\n\n", event.kind.name()))
}

/// A `text/event-stream` response of `messages`, never stored by caches.
pub(super) fn response(
    messages: impl Stream<Item = Result<Bytes, ApiError>> + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-store"))
        .streaming(messages)
}
