//! Turning events into `notification_jobs` rows: one per channel the
//! recipient wants (their preferences) and one per webhook subscribed to
//! the event. Written through whatever connection or transaction the caller
//! holds, so the jobs commit with the change that caused them.

use super::catalog::{Channel, EventKind};
use super::preferences;
use crate::db::{notification_job, now_ms, video, webhook};
use crate::failures;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde_json::{json, Value};
use uuid::Uuid;

/// A job waiting for its first attempt.
pub(crate) const PENDING: &str = "pending";
/// A job that was delivered.
pub(crate) const DELIVERED: &str = "delivered";
/// A job given up on.
pub(crate) const DEAD: &str = "dead";

/// Inserts one pending job.
async fn insert(
    db: &impl ConnectionTrait,
    kind: EventKind,
    channel: Channel,
    recipient: (Option<Uuid>, Option<Uuid>),
    payload: Value,
) -> Result<(), DbErr> {
    let now = now_ms();
    notification_job::Entity::insert(notification_job::ActiveModel {
        id: Set(Uuid::now_v7()),
        event: Set(kind.name().to_owned()),
        channel: Set(channel.name().to_owned()),
        user_id: Set(recipient.0),
        webhook_id: Set(recipient.1),
        payload: Set(payload),
        state: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Jobs for `kind` about `user_id` with `payload`: the user's channels,
/// then every webhook subscribed to `kind`.
pub(crate) async fn fan_out(
    db: &impl ConnectionTrait,
    kind: EventKind,
    user_id: Uuid,
    payload: Value,
) -> Result<(), DbErr> {
    let preferences = preferences::load(db, user_id).await?;
    for &channel in kind.user_channels() {
        if preferences.wants(kind, channel) {
            insert(db, kind, channel, (Some(user_id), None), payload.clone()).await?;
        }
    }
    if kind.webhook() {
        for hook in webhook::Entity::find().all(db).await? {
            if subscribed(&hook, kind) {
                insert(
                    db,
                    kind,
                    Channel::Webhook,
                    (None, Some(hook.id)),
                    payload.clone(),
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Whether `hook` asked for `kind`.
fn subscribed(hook: &webhook::Model, kind: EventKind) -> bool {
    hook.events
        .as_array()
        .is_some_and(|events| events.iter().any(|e| e.as_str() == Some(kind.name())))
}

/// The template context and webhook data of a video event.
pub(crate) fn video_payload(row: &video::Model) -> Value {
    // The uploader is told the code's stable sentence, never the worker's detail.
    let error = match &row.error_code {
        Some(code) => json!({ "code": code, "message": failures::public_message(code) }),
        None => Value::Null,
    };
    json!({
        "video": {
            "id": row.id,
            "title": row.title,
            "state": row.state,
            "duration_s": row.duration_s,
            "renditions": row.renditions,
            "error": error,
        }
    })
}
