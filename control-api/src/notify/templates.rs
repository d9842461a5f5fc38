//! Message templates (minijinja): one per event, channel and part —
//! `{event}.email.subject`, `{event}.email.text`, `{event}.email.html` and,
//! for video events, `{event}.sms.text`. Defaults live here; admins
//! override them in `notification_templates`. Names ending in `.html` are
//! HTML auto-escaped, so a video title cannot inject markup. Undefined
//! variables are errors and rendering runs on a fuel budget, so an
//! override that fails against the sample context (or loops forever) is
//! refused when it is saved, never discovered at send time. Listing and
//! saving overrides (`list`, `find`, `save`) take the `Admin`
//! capability.

use super::catalog::{Channel, EventKind};
use crate::auth::Admin;
use crate::db::{notification_template, now_ms};
use crate::error::ApiError;
use actix_web::http::StatusCode;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};
use serde_json::{json, Value};

/// Instructions one render may execute.
const FUEL: u64 = 50_000;
/// Largest accepted template source, in bytes.
pub(crate) const MAX_SOURCE_BYTES: usize = 16 * 1024;

/// The parts a channel's message is made of.
fn parts(channel: Channel) -> &'static [&'static str] {
    match channel {
        Channel::Email => &["email.subject", "email.text", "email.html"],
        Channel::Sms => &["sms.text"],
        Channel::Webhook => &[],
    }
}

/// A template slot: which event and part it renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TemplateName {
    /// The event rendered.
    pub kind: EventKind,
    /// The channel it is for.
    pub channel: Channel,
    part: &'static str,
}

impl TemplateName {
    /// Every template slot, in a stable order.
    pub(crate) fn all() -> impl Iterator<Item = TemplateName> {
        EventKind::ALL.into_iter().flat_map(|kind| {
            kind.user_channels().iter().flat_map(move |&channel| {
                parts(channel).iter().map(move |&part| TemplateName {
                    kind,
                    channel,
                    part,
                })
            })
        })
    }

    /// The slot called `name`.
    pub(crate) fn parse(name: &str) -> Option<TemplateName> {
        Self::all().find(|slot| slot.to_string() == name)
    }

    /// The slot of `kind`'s message on `channel`, part `part`.
    pub(crate) fn of(kind: EventKind, channel: Channel, part: &str) -> Option<TemplateName> {
        Self::all().find(|slot| slot.kind == kind && slot.channel == channel && slot.part == part)
    }

    /// The template shipped in code.
    pub(crate) fn default_source(self) -> &'static str {
        use EventKind::*;
        match (self.kind, self.part) {
            (VideoReady, "email.subject") => "Your video \"{{ video.title }}\" is ready",
            (VideoReady, "email.text") => "Hello {{ user.email }},\n\nyour video \"{{ video.title }}\" (id {{ video.id }}) has been transcoded and is ready to play.\n",
            (VideoReady, "email.html") => "<p>Hello {{ user.email }},</p>\n<p>your video <strong>{{ video.title }}</strong> (id <code>{{ video.id }}</code>) has been transcoded and is ready to play.</p>\n",
            (VideoReady, "sms.text") => "Goflix: \"{{ video.title }}\" is ready.",
            (VideoFailed, "email.subject") => "Your video \"{{ video.title }}\" could not be processed",
            (VideoFailed, "email.text") => "Hello {{ user.email }},\n\nyour video \"{{ video.title }}\" (id {{ video.id }}) could not be transcoded: {{ video.error.message }} ({{ video.error.code }}).\n",
            (VideoFailed, "email.html") => "<p>Hello {{ user.email }},</p>\n<p>your video <strong>{{ video.title }}</strong> (id <code>{{ video.id }}</code>) could not be transcoded: {{ video.error.message }} (<code>{{ video.error.code }}</code>).</p>\n",
            (VideoFailed, "sms.text") => "Goflix: \"{{ video.title }}\" failed: {{ video.error.code }}.",
            (VerifyEmail, "email.subject") => "Confirm your Goflix e-mail address",
            (VerifyEmail, "email.text") => "Hello {{ user.email }},\n\nconfirm your address with this code: {{ token }}\nIt expires soon and works once.\n",
            (VerifyEmail, "email.html") => "<p>Hello {{ user.email }},</p>\n<p>confirm your address with this code: <code>{{ token }}</code><br>It expires soon and works once.</p>\n",
            (PasswordReset, "email.subject") => "Reset your Goflix password",
            (PasswordReset, "email.text") => "Hello {{ user.email }},\n\nreset your password with this code: {{ token }}\nIt expires soon and works once. If you did not ask for it, ignore this message.\n",
            (PasswordReset, "email.html") => "<p>Hello {{ user.email }},</p>\n<p>reset your password with this code: <code>{{ token }}</code><br>It expires soon and works once. If you did not ask for it, ignore this message.</p>\n",
            (Welcome, "email.subject") => "Welcome to Goflix",
            (Welcome, "email.text") => "Hello {{ user.email }},\n\nyour Goflix account is ready.\n",
            (Welcome, "email.html") => "<p>Hello {{ user.email }},</p>\n<p>your Goflix account is ready.</p>\n",
            _ => unreachable!("every slot from TemplateName::all has a default"),
        }
    }

    /// A context shaped like the real ones for this event, to check overrides.
    pub(crate) fn sample_context(self) -> Value {
        let user = json!({ "email": "viewer@example.com" });
        let video = |state: &str, error: Value| {
            json!({
                "id": "01890a5d-ac96-774b-bcce-b302099a8057",
                "title": "Sample <video> & \"title\"",
                "state": state,
                "duration_s": 12.5,
                "error": error,
            })
        };
        match self.kind {
            EventKind::VideoReady => json!({ "user": user, "video": video("ready", Value::Null) }),
            EventKind::VideoFailed => json!({
                "user": user,
                "video": video("failed", json!({ "code": "invalid_media", "message": "no video stream" })),
            }),
            EventKind::VerifyEmail | EventKind::PasswordReset => {
                json!({ "user": user, "token": "sample-token" })
            }
            EventKind::Welcome => json!({ "user": user }),
        }
    }
}

impl std::fmt::Display for TemplateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.kind.name(), self.part)
    }
}

/// Renders `source` as template `name` against `context`; the error says
/// what is wrong (syntax, undefined variable, fuel exhausted).
pub(crate) fn render(name: &str, source: &str, context: &Value) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.render_named_str(name, source, context)
        .map_err(|e| e.to_string())
}

/// The name of every template slot.
pub fn names() -> impl Iterator<Item = String> {
    TemplateName::all().map(|slot| slot.to_string())
}

/// Checks `source` as the override of the template called `name`, as
/// `PUT /notification-templates/{name}` does before saving it; `None` when
/// no template has that name. (The fuzz target's entry point.)
pub fn check_override(name: &str, source: &str) -> Option<Result<(), String>> {
    TemplateName::parse(name).map(|slot| validate(slot, source))
}

/// Checks an override before it is saved: size, then a render against the
/// sample context.
fn validate(slot: TemplateName, source: &str) -> Result<(), String> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(format!(
            "the template is longer than {MAX_SOURCE_BYTES} bytes"
        ));
    }
    render(&slot.to_string(), source, &slot.sample_context())
        .map(drop)
        .map_err(|e| format!("the template does not render against the sample context: {e}"))
}

/// The source in force for `slot`: the override, else the default.
pub(crate) async fn source(db: &impl ConnectionTrait, slot: TemplateName) -> Result<String, DbErr> {
    Ok(notification_template::Entity::find_by_id(slot.to_string())
        .one(db)
        .await?
        .map(|row| row.source)
        .unwrap_or_else(|| slot.default_source().to_owned()))
}

/// Renders `slot` for `context` with the source in force; an override that
/// no longer renders (it was checked when saved) falls back to the default.
pub(crate) async fn render_slot(
    db: &impl ConnectionTrait,
    slot: TemplateName,
    context: &Value,
) -> Result<String, String> {
    let name = slot.to_string();
    let source = source(db, slot).await.map_err(|e| e.to_string())?;
    render(&name, &source, context).or_else(|e| {
        tracing::warn!(template = %name, error = %e, "template override failed; using the default");
        render(&name, slot.default_source(), context)
    })
}

/// A template slot with the override saved for it, if any.
pub(crate) struct Template {
    /// The slot.
    pub slot: TemplateName,
    /// The admin's override; `None` while the default is in force.
    pub saved: Option<notification_template::Model>,
}

/// Every template slot with its override (admins).
pub(crate) async fn list(db: &DatabaseConnection, _: &Admin) -> Result<Vec<Template>, DbErr> {
    let mut saved = notification_template::Entity::find().all(db).await?;
    Ok(TemplateName::all()
        .map(|slot| {
            let name = slot.to_string();
            let found = saved.iter().position(|row| row.name == name);
            Template {
                slot,
                saved: found.map(|at| saved.swap_remove(at)),
            }
        })
        .collect())
}

/// The template `slot` with its override (admins).
pub(crate) async fn find(
    db: &DatabaseConnection,
    _: &Admin,
    slot: TemplateName,
) -> Result<Template, DbErr> {
    let saved = notification_template::Entity::find_by_id(slot.to_string())
        .one(db)
        .await?;
    Ok(Template { slot, saved })
}

/// Overrides `slot` with `source` (admins), after [`validate`]: a source
/// that does not render against the sample context is refused with 422
/// `invalid_template`, so it is found now, never at send time.
pub(crate) async fn save(
    db: &DatabaseConnection,
    _: &Admin,
    slot: TemplateName,
    source: &str,
) -> Result<Template, ApiError> {
    validate(slot, source).map_err(|message| ApiError::Client {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_template",
        message,
    })?;
    let row = notification_template::Model {
        name: slot.to_string(),
        source: source.to_owned(),
        updated_at: now_ms(),
    };
    notification_template::Entity::insert(notification_template::ActiveModel {
        name: Set(row.name.clone()),
        source: Set(row.source.clone()),
        updated_at: Set(row.updated_at),
    })
    .on_conflict(
        OnConflict::column(notification_template::Column::Name)
            .update_columns([
                notification_template::Column::Source,
                notification_template::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(Template {
        slot,
        saved: Some(row),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_renders_against_its_sample() {
        let slots: Vec<TemplateName> = TemplateName::all().collect();
        assert_eq!(slots.len(), 17);
        for slot in slots {
            validate(slot, slot.default_source()).unwrap_or_else(|e| panic!("{slot}: {e}"));
            assert_eq!(TemplateName::parse(&slot.to_string()), Some(slot));
        }
    }

    #[test]
    fn html_parts_are_escaped_and_text_parts_are_not() {
        let slot = TemplateName::parse("video.ready.email.html").unwrap();
        let html = render(
            &slot.to_string(),
            slot.default_source(),
            &slot.sample_context(),
        )
        .unwrap();
        assert!(
            html.contains("Sample &lt;video&gt; &amp; &quot;title&quot;"),
            "{html}"
        );
        assert!(!html.contains("<video>"));
        let slot = TemplateName::parse("video.ready.email.text").unwrap();
        let text = render(
            &slot.to_string(),
            slot.default_source(),
            &slot.sample_context(),
        )
        .unwrap();
        assert!(text.contains("Sample <video> & \"title\""), "{text}");
    }

    #[test]
    fn broken_templates_are_refused_with_the_reason() {
        let slot = TemplateName::parse("video.failed.email.text").unwrap();
        let syntax = validate(slot, "{{ video.title ").unwrap_err();
        assert!(syntax.contains("sample context"), "{syntax}");
        let undefined = validate(slot, "{{ vidoe.title }}").unwrap_err();
        assert!(undefined.contains("undefined"), "{undefined}");
        let endless = validate(
            slot,
            "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
        );
        assert!(endless.is_err());
        assert!(validate(slot, &"x".repeat(MAX_SOURCE_BYTES + 1)).is_err());
        assert!(validate(slot, "{{ video.error.code }}: {{ video.title | upper }}").is_ok());
    }

    #[test]
    fn unknown_names_are_not_slots() {
        assert!(TemplateName::parse("video.ready.sms").is_none());
        assert!(TemplateName::parse("account.verify_email.sms.text").is_none());
        assert!(TemplateName::parse("../../etc/passwd").is_none());
        assert!(TemplateName::of(EventKind::VideoReady, Channel::Sms, "sms.text").is_some());
    }
}
