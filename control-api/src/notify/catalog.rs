//! What can be notified and how: the event kinds, the channels, which
//! channels each kind uses and which kinds a user cannot turn off.

/// A notifiable event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum EventKind {
    /// A video finished transcoding.
    VideoReady,
    /// A video could not be transcoded.
    VideoFailed,
    /// Confirm an account's e-mail address.
    VerifyEmail,
    /// Reset an account's password.
    PasswordReset,
    /// An account was created.
    Welcome,
}

impl EventKind {
    /// Every kind.
    pub(crate) const ALL: [Self; 5] = [
        Self::VideoReady,
        Self::VideoFailed,
        Self::VerifyEmail,
        Self::PasswordReset,
        Self::Welcome,
    ];

    /// The stable name (templates, preferences, webhook subscriptions).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::VideoReady => "video.ready",
            Self::VideoFailed => "video.failed",
            Self::VerifyEmail => "account.verify_email",
            Self::PasswordReset => "account.password_reset",
            Self::Welcome => "account.welcome",
        }
    }

    /// The kind called `name`.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The channels that reach the user: e-mail and SMS for video events,
    /// e-mail only for account events.
    pub(crate) fn user_channels(self) -> &'static [Channel] {
        match self {
            Self::VideoReady | Self::VideoFailed => &[Channel::Email, Channel::Sms],
            Self::VerifyEmail | Self::PasswordReset | Self::Welcome => &[Channel::Email],
        }
    }

    /// Sent whatever the user's preferences say (they carry a token the
    /// user asked for).
    pub(crate) fn mandatory(self) -> bool {
        matches!(self, Self::VerifyEmail | Self::PasswordReset)
    }

    /// Webhooks may subscribe to it (account events carry personal data
    /// and tokens, so they never leave by webhook).
    pub(crate) fn webhook(self) -> bool {
        matches!(self, Self::VideoReady | Self::VideoFailed)
    }
}

/// A way of delivering a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Channel {
    /// E-mail over SMTP.
    Email,
    /// SMS through the HTTP provider.
    Sms,
    /// A signed HTTP POST to a registered webhook.
    Webhook,
}

impl Channel {
    /// The stable name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Webhook => "webhook",
        }
    }

    /// The channel called `name`.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [Self::Email, Self::Sms, Self::Webhook]
            .into_iter()
            .find(|channel| channel.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.name()), Some(kind));
        }
        for channel in [Channel::Email, Channel::Sms, Channel::Webhook] {
            assert_eq!(Channel::parse(channel.name()), Some(channel));
        }
        assert_eq!(EventKind::parse("video.ready "), None);
        assert_eq!(EventKind::parse("VIDEO.READY"), None);
        assert_eq!(Channel::parse("pigeon"), None);
    }

    #[test]
    fn account_tokens_never_go_to_webhooks() {
        assert!(!EventKind::VerifyEmail.webhook());
        assert!(!EventKind::PasswordReset.webhook());
        assert!(EventKind::VerifyEmail.mandatory());
        assert!(!EventKind::VideoReady.mandatory());
    }
}
