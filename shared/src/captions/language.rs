//! BCP 47 language tags (RFC 5646): well-formedness and the canonical
//! case (`pt-BR`, `zh-Hant-TW`, `sr-Latn`), and the tags of the ISO 639-2
//! codes containers state (`eng`, `fra`/`fre`, `spa`, …) as BCP 47 spells
//! them (`en`, `fr`, `es`, …).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A well-formed BCP 47 tag in canonical case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LanguageTag(String);

impl LanguageTag {
    /// `und`: the language is not known.
    pub fn undetermined() -> Self {
        Self("und".to_owned())
    }

    /// Parses `tag`, refusing what is not a well-formed BCP 47 tag (RFC
    /// 5646 §2.1: language, extlangs, script, region, variants,
    /// extensions, private use, and the grandfathered tags) or is longer
    /// than 35 characters; the result is in canonical case.
    pub fn parse(tag: &str) -> Result<Self, String> {
        if tag.chars().count() > MAX_LEN {
            return Err(format!(
                "{tag:?} is not a BCP 47 language tag: it is longer than {MAX_LEN} characters"
            ));
        }
        if let Some(grandfathered) = grandfathered(tag) {
            return Ok(Self(grandfathered.to_owned()));
        }
        canonical(tag)
            .map(Self)
            .map_err(|why| format!("{tag:?} is not a BCP 47 language tag: {why}"))
    }

    /// The tag of a language a container states: an ISO 639-2 code (B or
    /// T form) becomes its ISO 639-1 tag where one exists (`fre` and
    /// `fra` → `fr`), another well-formed tag is kept, anything else
    /// (empty, malformed) is `und`.
    pub fn from_container(code: &str) -> Self {
        let code = code.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
        let lower = code.to_ascii_lowercase();
        match ISO_639_2_TO_1.iter().find(|(three, _)| *three == lower) {
            Some((_, two)) => Self((*two).to_owned()),
            None => Self::parse(code).unwrap_or_else(|_| Self::undetermined()),
        }
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for LanguageTag {
    type Error = String;
    fn try_from(tag: String) -> Result<Self, Self::Error> {
        Self::parse(&tag)
    }
}

impl From<LanguageTag> for String {
    fn from(tag: LanguageTag) -> Self {
        tag.0
    }
}

/// The longest tag accepted, in characters.
const MAX_LEN: usize = 35;

/// The grandfathered tags (RFC 5646 §2.1 `irregular` and `regular`), as
/// the IANA registry spells them.
const GRANDFATHERED: [&str; 26] = [
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// ISO 639-2 codes, bibliographic and terminology forms, and the ISO
/// 639-1 code of the same language.
#[rustfmt::skip]
const ISO_639_2_TO_1: &[(&str, &str)] = &[
    ("abk", "ab"), ("afr", "af"), ("alb", "sq"), ("amh", "am"), ("ara", "ar"),
    ("arm", "hy"), ("asm", "as"), ("aym", "ay"), ("aze", "az"), ("bak", "ba"),
    ("baq", "eu"), ("bel", "be"), ("ben", "bn"), ("bod", "bo"), ("bos", "bs"),
    ("bre", "br"), ("bul", "bg"), ("bur", "my"), ("cat", "ca"), ("ces", "cs"),
    ("chi", "zh"), ("chv", "cv"), ("cos", "co"), ("cym", "cy"), ("cze", "cs"),
    ("dan", "da"), ("deu", "de"), ("div", "dv"), ("dut", "nl"), ("dzo", "dz"),
    ("ell", "el"), ("eng", "en"), ("epo", "eo"), ("est", "et"), ("eus", "eu"),
    ("fao", "fo"), ("fas", "fa"), ("fij", "fj"), ("fin", "fi"), ("fra", "fr"),
    ("fre", "fr"), ("fry", "fy"), ("geo", "ka"), ("ger", "de"), ("gla", "gd"),
    ("gle", "ga"), ("glg", "gl"), ("gre", "el"), ("grn", "gn"), ("guj", "gu"),
    ("hat", "ht"), ("hau", "ha"), ("heb", "he"), ("hin", "hi"), ("hrv", "hr"),
    ("hun", "hu"), ("hye", "hy"), ("ibo", "ig"), ("ice", "is"), ("iku", "iu"),
    ("ind", "id"), ("isl", "is"), ("ita", "it"), ("jav", "jv"), ("jpn", "ja"),
    ("kal", "kl"), ("kan", "kn"), ("kat", "ka"), ("kaz", "kk"), ("khm", "km"),
    ("kin", "rw"), ("kir", "ky"), ("kor", "ko"), ("kur", "ku"), ("lao", "lo"),
    ("lat", "la"), ("lav", "lv"), ("lin", "ln"), ("lit", "lt"), ("ltz", "lb"),
    ("lug", "lg"), ("mac", "mk"), ("mal", "ml"), ("mao", "mi"), ("mar", "mr"),
    ("may", "ms"), ("mkd", "mk"), ("mlt", "mt"), ("mon", "mn"), ("mri", "mi"),
    ("msa", "ms"), ("mya", "my"), ("nep", "ne"), ("nld", "nl"), ("nno", "nn"),
    ("nob", "nb"), ("nor", "no"), ("nya", "ny"), ("oci", "oc"), ("ori", "or"),
    ("orm", "om"), ("pan", "pa"), ("per", "fa"), ("pol", "pl"), ("por", "pt"),
    ("pus", "ps"), ("que", "qu"), ("roh", "rm"), ("ron", "ro"), ("rum", "ro"),
    ("run", "rn"), ("rus", "ru"), ("san", "sa"), ("sin", "si"), ("slk", "sk"),
    ("slo", "sk"), ("slv", "sl"), ("smo", "sm"), ("sna", "sn"), ("som", "so"),
    ("sot", "st"), ("spa", "es"), ("sqi", "sq"), ("srp", "sr"), ("sun", "su"),
    ("swa", "sw"), ("swe", "sv"), ("tam", "ta"), ("tat", "tt"), ("tel", "te"),
    ("tgk", "tg"), ("tgl", "tl"), ("tha", "th"), ("tib", "bo"), ("tir", "ti"),
    ("ton", "to"), ("tsn", "tn"), ("tuk", "tk"), ("tur", "tr"), ("uig", "ug"),
    ("ukr", "uk"), ("urd", "ur"), ("uzb", "uz"), ("vie", "vi"), ("wel", "cy"),
    ("wol", "wo"), ("xho", "xh"), ("yid", "yi"), ("yor", "yo"), ("zho", "zh"),
    ("zul", "zu"),
];

/// The registry's spelling of `tag` if it is a grandfathered tag.
fn grandfathered(tag: &str) -> Option<&'static str> {
    GRANDFATHERED
        .iter()
        .copied()
        .find(|grandfathered| grandfathered.eq_ignore_ascii_case(tag))
}

/// `tag` in canonical case if it is a well-formed `langtag` or
/// `privateuse` (RFC 5646 §2.1), else what is wrong with it.
fn canonical(tag: &str) -> Result<String, String> {
    if tag.is_empty() {
        return Err("it is empty".to_owned());
    }
    if !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err("a tag is ASCII letters and digits in subtags separated by `-`".to_owned());
    }
    let subtags: Vec<&str> = tag.split('-').collect();
    if subtags.iter().any(|subtag| subtag.is_empty()) {
        return Err("it has an empty subtag (a leading, trailing or doubled `-`)".to_owned());
    }
    let mut reader = Reader {
        rest: &subtags,
        canonical: Vec::new(),
    };
    if !subtags[0].eq_ignore_ascii_case("x") {
        reader.langtag()?;
    }
    reader.private_use()?;
    match reader.rest.first() {
        Some(subtag) => Err(format!("the subtag {subtag:?} is out of place")),
        None => Ok(reader.canonical.join("-")),
    }
}

/// Reads a tag's subtags in the order RFC 5646 §2.1 gives them, writing
/// each in canonical case.
struct Reader<'a> {
    /// The subtags not read yet.
    rest: &'a [&'a str],
    /// The subtags read, in canonical case.
    canonical: Vec<String>,
}

impl Reader<'_> {
    /// `language ["-" script] ["-" region] *("-" variant) *("-" extension)`.
    fn langtag(&mut self) -> Result<(), String> {
        if !self.take(is_language, str::to_ascii_lowercase) {
            return Err("the language subtag must be 2 or 3 letters".to_owned());
        }
        for _ in 0..3 {
            self.take(is_extlang, str::to_ascii_lowercase);
        }
        self.take(is_script, titlecase);
        self.take(is_region, str::to_ascii_uppercase);
        while self.take(is_variant, str::to_ascii_lowercase) {}
        while self.extension()? {}
        Ok(())
    }

    /// `singleton 1*("-" (2*8alphanum))`, if one is next.
    fn extension(&mut self) -> Result<bool, String> {
        let Some(&singleton) = self.rest.first().filter(|subtag| is_singleton(subtag)) else {
            return Ok(false);
        };
        self.take(is_singleton, str::to_ascii_lowercase);
        if !self.take(is_extension_subtag, str::to_ascii_lowercase) {
            return Err(format!(
                "the extension {singleton:?} needs subtags of 2 to 8 letters or digits"
            ));
        }
        while self.take(is_extension_subtag, str::to_ascii_lowercase) {}
        Ok(true)
    }

    /// `"x" 1*("-" (1*8alphanum))`, if it is next.
    fn private_use(&mut self) -> Result<(), String> {
        if !self.take(
            |subtag| subtag.eq_ignore_ascii_case("x"),
            str::to_ascii_lowercase,
        ) {
            return Ok(());
        }
        if !self.take(is_private_subtag, str::to_ascii_lowercase) {
            return Err(
                "the private use part `x` needs subtags of 1 to 8 letters or digits".to_owned(),
            );
        }
        while self.take(is_private_subtag, str::to_ascii_lowercase) {}
        Ok(())
    }

    /// Reads the next subtag if `fits` it, written with `case`.
    fn take(&mut self, fits: impl Fn(&str) -> bool, case: impl Fn(&str) -> String) -> bool {
        match self.rest.split_first() {
            Some((subtag, rest)) if fits(subtag) => {
                self.canonical.push(case(subtag));
                self.rest = rest;
                true
            }
            _ => false,
        }
    }
}

/// `2*3ALPHA`: the 4- and 5-to-8-letter forms RFC 5646 reserves have
/// never been registered, so a word such as `english` is refused.
fn is_language(subtag: &str) -> bool {
    (2..=3).contains(&subtag.len()) && is_alpha(subtag)
}

/// `3ALPHA`.
fn is_extlang(subtag: &str) -> bool {
    subtag.len() == 3 && is_alpha(subtag)
}

/// `4ALPHA`.
fn is_script(subtag: &str) -> bool {
    subtag.len() == 4 && is_alpha(subtag)
}

/// `2ALPHA / 3DIGIT`.
fn is_region(subtag: &str) -> bool {
    (subtag.len() == 2 && is_alpha(subtag))
        || (subtag.len() == 3 && subtag.bytes().all(|b| b.is_ascii_digit()))
}

/// `5*8alphanum / (DIGIT 3alphanum)`.
fn is_variant(subtag: &str) -> bool {
    let starts_with_digit = subtag.starts_with(|c: char| c.is_ascii_digit());
    ((5..=8).contains(&subtag.len()) || (subtag.len() == 4 && starts_with_digit))
        && is_alphanumeric(subtag)
}

/// One letter or digit but `x`.
fn is_singleton(subtag: &str) -> bool {
    subtag.len() == 1 && is_alphanumeric(subtag) && !subtag.eq_ignore_ascii_case("x")
}

/// `2*8alphanum`.
fn is_extension_subtag(subtag: &str) -> bool {
    (2..=8).contains(&subtag.len()) && is_alphanumeric(subtag)
}

/// `1*8alphanum`.
fn is_private_subtag(subtag: &str) -> bool {
    (1..=8).contains(&subtag.len()) && is_alphanumeric(subtag)
}

fn is_alpha(subtag: &str) -> bool {
    subtag.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_alphanumeric(subtag: &str) -> bool {
    subtag.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `subtag` with its first letter upper case and the others lower case.
fn titlecase(subtag: &str) -> String {
    let mut titled = subtag.to_ascii_lowercase();
    titled[..1].make_ascii_uppercase();
    titled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(tag: &str) -> Result<String, String> {
        LanguageTag::parse(tag).map(String::from)
    }

    #[test]
    fn well_formed_tags_are_accepted_in_canonical_case() {
        for (tag, canonical) in [
            ("en", "en"),
            ("EN", "en"),
            ("pt-br", "pt-BR"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("SR-LATN-rs", "sr-Latn-RS"),
            ("de-ch-1996", "de-CH-1996"),
            ("x-klingon", "x-klingon"),
            ("X-Klingon", "x-klingon"),
            ("es-419", "es-419"),
            ("und", "und"),
            ("zh-yue-HK", "zh-yue-HK"),
            ("sl-rozaj-biske", "sl-rozaj-biske"),
            ("en-US-u-ca-Gregory-x-Twain", "en-US-u-ca-gregory-x-twain"),
            ("de-A-bc-B-de", "de-a-bc-b-de"),
            ("ast", "ast"),
            ("fil", "fil"),
        ] {
            assert_eq!(parsed(tag), Ok(canonical.to_owned()), "{tag:?}");
        }
    }

    #[test]
    fn grandfathered_tags_are_accepted_as_the_registry_spells_them() {
        assert_eq!(parsed("i-klingon"), Ok("i-klingon".to_owned()));
        assert_eq!(parsed("I-KLINGON"), Ok("i-klingon".to_owned()));
        assert_eq!(parsed("en-gb-oed"), Ok("en-GB-oed".to_owned()));
        assert_eq!(parsed("SGN-be-fr"), Ok("sgn-BE-FR".to_owned()));
        assert_eq!(parsed("zh-min-nan"), Ok("zh-min-nan".to_owned()));
    }

    #[test]
    fn malformed_tags_are_refused() {
        for tag in [
            "en_US",
            "english",
            "123",
            "e",
            "",
            "en--US",
            "en-",
            "-en",
            "en-US-",
            "i-foo",
            "x",
            "x-",
            "en-a",
            "en-a-b",
            "en-x",
            "en-US-US",
            "en-Latn-Latn",
            "abcd",
            "toolongtag",
            "en-abcdefghi",
            "zh-yue-cmn-wuu-nan",
            "en US",
            "én",
        ] {
            assert!(LanguageTag::parse(tag).is_err(), "{tag:?} accepted");
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert_eq!(
            parsed("en_US"),
            Err("\"en_US\" is not a BCP 47 language tag: a tag is ASCII letters and digits in subtags separated by `-`".to_owned())
        );
        assert_eq!(
            parsed("english"),
            Err("\"english\" is not a BCP 47 language tag: the language subtag must be 2 or 3 letters".to_owned())
        );
        assert_eq!(
            parsed("en--US"),
            Err("\"en--US\" is not a BCP 47 language tag: it has an empty subtag (a leading, trailing or doubled `-`)".to_owned())
        );
        assert_eq!(
            parsed(""),
            Err("\"\" is not a BCP 47 language tag: it is empty".to_owned())
        );
        assert_eq!(
            parsed("en-US-US"),
            Err(
                "\"en-US-US\" is not a BCP 47 language tag: the subtag \"US\" is out of place"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_tag_over_35_characters_is_refused() {
        let longest = "en-a-bbbbbbbb-cccccccc-dddddddd-eee";
        assert_eq!(longest.len(), 35);
        assert!(LanguageTag::parse(longest).is_ok());
        let error = parsed(&format!("{longest}e")).unwrap_err();
        assert!(
            error.ends_with("it is longer than 35 characters"),
            "{error}"
        );
    }

    #[test]
    fn a_tag_goes_through_serde_as_a_checked_string() {
        let tag: LanguageTag = serde_json::from_str("\"pt-br\"").expect("a tag");
        assert_eq!(tag.as_str(), "pt-BR");
        assert_eq!(serde_json::to_string(&tag).expect("JSON"), "\"pt-BR\"");
        assert!(serde_json::from_str::<LanguageTag>("\"en_US\"").is_err());
    }

    #[test]
    fn container_codes_become_their_two_letter_tags() {
        #[rustfmt::skip]
        let codes = [
            ("eng", "en"), ("fra", "fr"), ("fre", "fr"), ("spa", "es"), ("deu", "de"),
            ("ger", "de"), ("ita", "it"), ("por", "pt"), ("rus", "ru"), ("jpn", "ja"),
            ("zho", "zh"), ("chi", "zh"), ("kor", "ko"), ("ara", "ar"), ("hin", "hi"),
            ("nld", "nl"), ("dut", "nl"), ("swe", "sv"), ("nor", "no"), ("dan", "da"),
            ("fin", "fi"), ("pol", "pl"), ("tur", "tr"), ("ces", "cs"), ("cze", "cs"),
            ("ell", "el"), ("gre", "el"), ("heb", "he"), ("hun", "hu"), ("ron", "ro"),
            ("rum", "ro"), ("ukr", "uk"), ("vie", "vi"), ("tha", "th"), ("ind", "id"),
            ("msa", "ms"), ("may", "ms"), ("cat", "ca"), ("hrv", "hr"), ("srp", "sr"),
            ("slk", "sk"), ("slo", "sk"), ("slv", "sl"), ("bul", "bg"), ("fas", "fa"),
            ("per", "fa"), ("ben", "bn"), ("tam", "ta"), ("tel", "te"), ("urd", "ur"),
            ("est", "et"), ("lav", "lv"), ("lit", "lt"), ("isl", "is"), ("ice", "is"),
            ("gle", "ga"), ("eus", "eu"), ("baq", "eu"), ("glg", "gl"), ("cym", "cy"),
            ("wel", "cy"), ("afr", "af"), ("swa", "sw"), ("fil", "fil"), ("tgl", "tl"),
        ];
        for (code, tag) in codes {
            assert_eq!(LanguageTag::from_container(code).as_str(), tag, "{code:?}");
        }
    }

    #[test]
    fn container_codes_are_read_in_any_case() {
        assert_eq!(LanguageTag::from_container("ENG").as_str(), "en");
        assert_eq!(LanguageTag::from_container("Fre").as_str(), "fr");
        assert_eq!(LanguageTag::from_container(" eng\0").as_str(), "en");
    }

    #[test]
    fn other_well_formed_container_tags_are_kept_in_canonical_case() {
        assert_eq!(LanguageTag::from_container("ast").as_str(), "ast");
        assert_eq!(LanguageTag::from_container("en-us").as_str(), "en-US");
        assert_eq!(LanguageTag::from_container("pt-BR").as_str(), "pt-BR");
        assert_eq!(
            LanguageTag::from_container("i-klingon").as_str(),
            "i-klingon"
        );
    }

    #[test]
    fn undetermined_empty_and_malformed_container_codes_are_und() {
        for code in [
            "und", "UND", "", "   ", "en_US", "english", "e", "12", "\0\0\0",
        ] {
            assert_eq!(
                LanguageTag::from_container(code),
                LanguageTag::undetermined(),
                "{code:?}"
            );
        }
    }

    #[test]
    fn every_container_code_maps_to_a_well_formed_tag() {
        let mut codes: Vec<&str> = ISO_639_2_TO_1.iter().map(|(three, _)| *three).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ISO_639_2_TO_1.len(), "a code is listed twice");
        for (three, two) in ISO_639_2_TO_1 {
            assert_eq!(three.len(), 3);
            assert_eq!(parsed(two).as_deref(), Ok(*two));
        }
    }
}
