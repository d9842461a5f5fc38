//! Who may play a video: its [`Visibility`], stored as its lowercase wire
//! name in the `videos.visibility` column.

use super::wire::wire_name;
use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};
use sea_orm::Iterable;
use serde::{Deserialize, Serialize};

/// Who may play a video.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, DeriveActiveEnum, EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "lowercase"
)]
pub enum Visibility {
    /// Listed and playable by anyone.
    #[default]
    Public,
    /// Playable by anyone with the link, not listed.
    Unlisted,
    /// Playable only with a playback token.
    Private,
}

impl Visibility {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }
}

wire_name!(Visibility, Visibility::iter(), |s| format!(
    "visibility must be public, unlisted or private, not {s:?}"
));

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ActiveEnum;

    #[test]
    fn visibility_parses_only_known_names() {
        assert_eq!("private".parse::<Visibility>(), Ok(Visibility::Private));
        assert!("Private".parse::<Visibility>().is_err());
    }

    #[test]
    fn the_column_holds_the_wire_name() {
        for visibility in Visibility::iter() {
            assert_eq!(visibility.to_value(), visibility.as_str());
            assert_eq!(
                serde_json::to_value(visibility).unwrap(),
                visibility.as_str()
            );
            assert_eq!(
                Visibility::try_from_value(&visibility.to_value()).unwrap(),
                visibility
            );
        }
    }
}
