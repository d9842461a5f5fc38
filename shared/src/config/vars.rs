//! Reading [`Setting`]s from a set of variables: `NAME` or the file named by
//! `NAME_FILE`, the literal default of the table when unset, numbers and
//! choices checked against the setting's [`Kind`], and errors that name the
//! variable.

use super::settings::{self, Fallback, Kind, Setting};
use super::ConfigError;
use std::collections::HashMap;

/// The `GOFLIX_*` variables given, every one of them a known setting.
pub(super) struct Vars(HashMap<String, String>);

impl Vars {
    /// Keeps the `GOFLIX_*` variables of `vars` (but `GOFLIX_TEST_*`, the
    /// test suite's); an unknown one is an error.
    pub(super) fn new(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("GOFLIX_") && !k.starts_with("GOFLIX_TEST_"))
            .collect();
        if let Some(unknown) = vars.keys().find(|name| settings::find(name).is_none()) {
            return Err(ConfigError::Unknown(unknown.clone()));
        }
        Ok(Self(vars))
    }

    /// The given value of `setting`: `NAME`, or the contents of the file
    /// named by `NAME_FILE` without its final line break.
    fn given(&self, setting: &Setting) -> Result<Option<String>, ConfigError> {
        if let Some(value) = self.0.get(setting.name) {
            return Ok(Some(value.clone()));
        }
        let file_var = format!("{}_FILE", setting.name);
        match self.0.get(&file_var) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path)
                .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|e| ConfigError::Invalid {
                    name: file_var,
                    message: format!("cannot read {path}: {e}"),
                }),
        }
    }

    /// The given value through `parse`, `None` when unset (a setting whose
    /// default is worked out by the caller).
    pub(super) fn optional<T>(
        &self,
        setting: &Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.given(setting)?
            .map(|value| parse(&value).map_err(|message| invalid(setting, message)))
            .transpose()
    }

    /// The given value, or else the table's literal default, through `parse`.
    pub(super) fn value<T>(
        &self,
        setting: &Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = match (self.given(setting)?, &setting.default) {
            (Some(value), _) => value,
            (None, Fallback::Value(default)) => (*default).to_owned(),
            (None, Fallback::Described(_)) => {
                return Err(invalid(setting, "must be set".into()));
            }
        };
        parse(&value).map_err(|message| invalid(setting, message))
    }

    /// A [`Kind::Number`] setting, checked against its range.
    pub(super) fn number<T: TryFrom<u64>>(&self, setting: &Setting) -> Result<T, ConfigError> {
        let Kind::Number { min, max, .. } = setting.kind else {
            return Err(invalid(setting, "is not a number setting".into()));
        };
        self.value(setting, |value| {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= min && max.is_none_or(|max| *n <= max))
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| format!("{value:?} is not a number of {}", setting.kind))
        })
    }

    /// A [`Kind::Choice`] setting: one of its words.
    pub(super) fn choice(&self, setting: &Setting) -> Result<&'static str, ConfigError> {
        let Kind::Choice(words) = setting.kind else {
            return Err(invalid(setting, "is not a choice setting".into()));
        };
        self.value(setting, |value| {
            words
                .iter()
                .copied()
                .find(|word| *word == value)
                .ok_or_else(|| format!("{value:?} is not one of {}", words.join(", ")))
        })
    }
}

fn invalid(setting: &Setting, message: String) -> ConfigError {
    ConfigError::Invalid {
        name: setting.name.into(),
        message,
    }
}
