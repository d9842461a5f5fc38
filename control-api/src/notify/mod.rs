//! Notifications: events (`video.ready`, `video.failed`, account events)
//! become rows of `notification_jobs` — one per channel the recipient
//! wants and one per subscribed webhook — written in the caller's
//! transaction, then delivered asynchronously by a dispatcher running in
//! every control-plane process, with retries and capped exponential
//! backoff, so nothing is lost while a provider is down.
//!
//! - [`enqueue`] is the entry point for account events; the event follower
//!   calls `video_event` for video events.
//! - `catalog` (events and channels), `jobs` (fan-out), `dispatcher`
//!   (claiming, attempts, backoff via `backoff`), `email` (SMTP), `sms`
//!   (HTTP provider), `webhook` (signed POSTs; `signing`, and the
//!   `egress` module for SSRF checks), `templates` (minijinja, defaults in
//!   code, admins' overrides), `preferences` (per-user channels) and `webhook_registry`
//!   (admins' webhook registrations and their delivery history). What
//!   admins change is reached only through functions taking the `Admin`
//!   capability.

mod backoff;
pub(crate) mod catalog;
mod dispatcher;
mod email;
mod jobs;
pub(crate) mod preferences;
mod signing;
mod sms;
pub mod templates;
pub(crate) mod webhook;
pub(crate) mod webhook_registry;

use crate::db::video;
use backoff::Backoff;
use catalog::EventKind;
use email::Mailer;
use goflix_shared::config::Config;
use goflix_shared::events::{Event, EventKind as BusEvent};
use goflix_shared::shutdown::Shutdown;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};
use secrecy::ExposeSecret;
use serde_json::json;
use sms::SmsSender;
use uuid::Uuid;
use webhook::WebhookSender;

pub(crate) use jobs::PENDING;

/// Something that happened to an account, told by e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountEvent {
    /// Confirm the account's e-mail address with `token` (always sent).
    VerifyEmail {
        /// The single-use verification token.
        token: String,
    },
    /// Reset the password with `token` (always sent).
    PasswordReset {
        /// The single-use reset token.
        token: String,
    },
    /// The account was created (the user may turn it off).
    Welcome,
}

impl AccountEvent {
    fn kind(&self) -> EventKind {
        match self {
            Self::VerifyEmail { .. } => EventKind::VerifyEmail,
            Self::PasswordReset { .. } => EventKind::PasswordReset,
            Self::Welcome => EventKind::Welcome,
        }
    }
}

/// A notification to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    user_id: Uuid,
    event: AccountEvent,
}

impl Notification {
    /// An account notification for the user `user_id`.
    pub fn account(user_id: Uuid, event: AccountEvent) -> Notification {
        Notification { user_id, event }
    }
}

/// Writes the jobs that deliver `notification` through `db` — pass the
/// transaction that makes the change (a new token, a new account) so the
/// notification commits or rolls back with it.
pub async fn enqueue(db: &impl ConnectionTrait, notification: Notification) -> Result<(), DbErr> {
    let payload = match &notification.event {
        AccountEvent::VerifyEmail { token } | AccountEvent::PasswordReset { token } => {
            json!({ "token": token })
        }
        AccountEvent::Welcome => json!({}),
    };
    jobs::fan_out(db, notification.event.kind(), notification.user_id, payload).await
}

/// Enqueues the notifications of a bus event the follower just applied
/// (`applied` is false when the event changed nothing, e.g. a duplicate):
/// `video.ready` and `video.failed` notify the owner and the webhooks.
pub(crate) async fn video_event(
    db: &impl ConnectionTrait,
    event: &Event,
    applied: bool,
) -> Result<(), DbErr> {
    let kind = match event.kind {
        BusEvent::Ready { .. } => EventKind::VideoReady,
        BusEvent::Failed { .. } => EventKind::VideoFailed,
        _ => return Ok(()),
    };
    if !applied {
        return Ok(());
    }
    let Some(row) = video::Entity::find_by_id(event.video_id.0).one(db).await? else {
        return Ok(());
    };
    jobs::fan_out(db, kind, row.owner_id, jobs::video_payload(&row)).await
}

/// The delivery channels of one process, from its configuration.
pub(crate) struct Notifier {
    mailer: Option<Mailer>,
    sms: Option<SmsSender>,
    /// Webhook deliveries (and whether internal addresses are allowed).
    pub webhooks: WebhookSender,
    backoff: Backoff,
}

impl Notifier {
    /// Channels from `GOFLIX_SMTP_*`, `GOFLIX_SMS_*`,
    /// `GOFLIX_WEBHOOK_ALLOW_PRIVATE` and `GOFLIX_NOTIFY_RETRY_MAX_SECONDS`.
    pub(crate) fn from_config(config: &Config) -> Result<Self, String> {
        let mailer = config
            .smtp_url
            .as_ref()
            .map(|url| Mailer::new(url.expose_secret(), config.smtp_from.as_deref()))
            .transpose()?;
        let sms = config
            .sms_url
            .as_ref()
            .map(|url| SmsSender::new(url.expose_secret(), config.sms_from.as_deref()))
            .transpose()?;
        Ok(Self {
            mailer,
            sms,
            webhooks: WebhookSender::new(config.webhook_allow_private)?,
            backoff: Backoff::new(config.notify_retry_max),
        })
    }

    /// Delivers due notifications until `shutdown`.
    pub(crate) async fn run(&self, db: &DatabaseConnection, shutdown: Shutdown) {
        dispatcher::run(db, self, shutdown).await;
    }
}
