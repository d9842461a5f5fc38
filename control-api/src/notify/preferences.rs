//! Per-user channel preferences: for each event a user may silence, which
//! of its channels are on (e-mail on and SMS off by default), and the phone
//! number SMS goes to. Verification and password-reset e-mails are always
//! sent, so they are not listed.

use super::catalog::{Channel, EventKind};
use crate::db::{notification_preference, now_ms};
use crate::error::ApiError;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// `{event: {channel: on}}`.
pub(crate) type ChannelMap = BTreeMap<String, BTreeMap<String, bool>>;

/// A user's preferences, defaults filled in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = NotificationPreferences)]
#[serde(deny_unknown_fields)]
pub(crate) struct Preferences {
    /// E.164 number SMS goes to; `null` when none.
    pub phone: Option<String>,
    /// For each event a user may silence, each of its channels on or off:
    /// `{event: {channel: on}}` for `video.ready`, `video.failed` (`email`,
    /// `sms`) and `account.welcome` (`email`).
    #[schema(inline)]
    pub events: ChannelMap,
}

/// The state of a channel no one chose: e-mail on, SMS off.
fn default_on(channel: Channel) -> bool {
    channel == Channel::Email
}

/// The events a user may silence.
fn optional_events() -> impl Iterator<Item = EventKind> {
    EventKind::ALL.into_iter().filter(|kind| !kind.mandatory())
}

impl Preferences {
    /// `stored` over the defaults.
    fn over_defaults(phone: Option<String>, stored: &ChannelMap) -> Self {
        let events = optional_events()
            .map(|kind| {
                let channels = kind
                    .user_channels()
                    .iter()
                    .map(|&channel| {
                        let on = stored
                            .get(kind.name())
                            .and_then(|c| c.get(channel.name()))
                            .copied()
                            .unwrap_or(default_on(channel));
                        (channel.name().to_owned(), on)
                    })
                    .collect();
                (kind.name().to_owned(), channels)
            })
            .collect();
        Self { phone, events }
    }

    /// Whether `kind` goes out on `channel` (always for mandatory events'
    /// e-mail; SMS also needs a phone number).
    pub(crate) fn wants(&self, kind: EventKind, channel: Channel) -> bool {
        if !kind.user_channels().contains(&channel) {
            return false;
        }
        if kind.mandatory() {
            return true;
        }
        let on = self
            .events
            .get(kind.name())
            .and_then(|c| c.get(channel.name()))
            .copied()
            .unwrap_or(default_on(channel));
        on && (channel != Channel::Sms || self.phone.is_some())
    }

    /// Checks a `PUT` body: known events and channels only, a valid phone
    /// number, and a phone number whenever an SMS channel is on. Events or
    /// channels left out take their defaults.
    pub(crate) fn validated(self) -> Result<Self, ApiError> {
        if let Some(phone) = &self.phone {
            if !is_e164(phone) {
                return Err(ApiError::bad_request(
                    "invalid_phone",
                    "phone must be in E.164 form, like +14155550123",
                ));
            }
        }
        for (event, channels) in &self.events {
            let kind = EventKind::parse(event).ok_or_else(|| {
                ApiError::bad_request("invalid_preferences", format!("unknown event {event:?}"))
            })?;
            if kind.mandatory() {
                return Err(ApiError::bad_request(
                    "invalid_preferences",
                    format!("{event} is always sent and cannot be configured"),
                ));
            }
            for (name, on) in channels {
                let channel = Channel::parse(name)
                    .filter(|c| kind.user_channels().contains(c))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_preferences",
                            format!("{event} has no channel {name:?}"),
                        )
                    })?;
                if channel == Channel::Sms && *on && self.phone.is_none() {
                    return Err(ApiError::bad_request(
                        "phone_required",
                        "turning SMS on needs a phone number",
                    ));
                }
            }
        }
        Ok(Self::over_defaults(self.phone.clone(), &self.events))
    }
}

/// `+` then 8 to 15 digits, the first not 0.
fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `user_id`'s preferences (the defaults when never set).
pub(crate) async fn load(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Preferences, DbErr> {
    let row = notification_preference::Entity::find_by_id(user_id)
        .one(db)
        .await?;
    Ok(match row {
        Some(row) => {
            let stored: ChannelMap = serde_json::from_value(row.channels).unwrap_or_default();
            Preferences::over_defaults(row.phone, &stored)
        }
        None => Preferences::over_defaults(None, &ChannelMap::new()),
    })
}

/// Replaces `user_id`'s preferences with `preferences` (validated).
pub(crate) async fn save(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    preferences: &Preferences,
) -> Result<(), DbErr> {
    let channels = serde_json::to_value(&preferences.events)
        .map_err(|e| DbErr::Custom(format!("preferences: {e}")))?;
    notification_preference::Entity::insert(notification_preference::ActiveModel {
        user_id: Set(user_id),
        phone: Set(preferences.phone.clone()),
        channels: Set(channels),
        updated_at: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::column(notification_preference::Column::UserId)
            .update_columns([
                notification_preference::Column::Phone,
                notification_preference::Column::Channels,
                notification_preference::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs(value: serde_json::Value) -> Result<Preferences, ApiError> {
        serde_json::from_value::<Preferences>(value)
            .unwrap()
            .validated()
    }

    #[test]
    fn defaults_send_email_and_not_sms() {
        let defaults = prefs(serde_json::json!({ "phone": null, "events": {} })).unwrap();
        assert!(defaults.wants(EventKind::VideoReady, Channel::Email));
        assert!(!defaults.wants(EventKind::VideoReady, Channel::Sms));
        assert!(!defaults.events["video.failed"]["sms"]);
        assert!(!defaults.events.contains_key("account.verify_email"));
    }

    #[test]
    fn account_tokens_are_sent_even_with_email_off() {
        let off = prefs(serde_json::json!({
            "phone": null,
            "events": { "account.welcome": { "email": false }, "video.ready": { "email": false } }
        }))
        .unwrap();
        assert!(!off.wants(EventKind::Welcome, Channel::Email));
        assert!(!off.wants(EventKind::VideoReady, Channel::Email));
        assert!(off.wants(EventKind::PasswordReset, Channel::Email));
        assert!(off.wants(EventKind::VerifyEmail, Channel::Email));
    }

    #[test]
    fn bad_bodies_are_refused_with_stable_codes() {
        let code = |v| prefs(v).unwrap_err().code();
        use serde_json::json;
        assert_eq!(
            code(json!({ "phone": "0155", "events": {} })),
            "invalid_phone"
        );
        assert_eq!(
            code(json!({ "phone": "+1555\r\n0123", "events": {} })),
            "invalid_phone"
        );
        assert_eq!(
            code(json!({ "phone": null, "events": { "video.ready": { "sms": true } } })),
            "phone_required"
        );
        assert_eq!(
            code(
                json!({ "phone": null, "events": { "account.password_reset": { "email": false } } })
            ),
            "invalid_preferences"
        );
        assert_eq!(
            code(json!({ "phone": null, "events": { "video.ready": { "webhook": true } } })),
            "invalid_preferences"
        );
        assert_eq!(
            code(json!({ "phone": null, "events": { "<script>": { "email": true } } })),
            "invalid_preferences"
        );
        let sms =
            prefs(json!({ "phone": "+14155550123", "events": { "video.ready": { "sms": true } } }))
                .unwrap();
        assert!(sms.wants(EventKind::VideoReady, Channel::Sms));
        assert!(!sms.wants(EventKind::VideoFailed, Channel::Sms));
    }
}
