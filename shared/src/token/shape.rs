//! The shapes of the blocks Goflix makes, and the structural check every
//! token passes before any datalog runs. A biscuit's holder can append
//! blocks (that is what attenuation is), so a token may carry rules and
//! checks nobody at Goflix wrote, and datalog evaluation is only bounded
//! between iterations: one hostile join rule can keep a thread busy for
//! seconds. [`inspect`] therefore reads every block's facts, rules and
//! checks structurally (biscuit's own datalog types, decoded from the
//! token's protobuf blocks) and accepts only
//!
//! - an authority block that is exactly one of the grants
//!   [`super::TokenIssuer`] issues (a user's access, a service client's
//!   access with its scopes, a playback token), with no rules, and
//! - at most one appended block, exactly the upload attenuation block of
//!   [`super::TokenVerifier::attenuate_for_upload`]: its `expires` fact and
//!   its two checks;
//!
//! and nothing else: no third-party block, no extra fact, rule, check,
//! scope or context.

use super::TokenError;
use crate::domain::{Role, Scope};
use biscuit_auth::builder::{self, Convert, Term};
use biscuit_auth::datalog::{self, SymbolTable};
use biscuit_auth::format::convert::proto_block_to_token_block;
use biscuit_auth::format::schema;
use biscuit_auth::macros::check;
use biscuit_auth::Biscuit;
use prost::Message;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// What a token's authority block grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Authority {
    /// A user's API access.
    User {
        id: Uuid,
        role: Role,
        session: Option<Uuid>,
    },
    /// A service client's API access.
    Client {
        client_id: String,
        owner_id: Uuid,
        /// Sorted, without the names this version does not know.
        scopes: Vec<Scope>,
    },
    /// Playback of one video.
    Playback {
        video: String,
        user: Uuid,
        session: Option<Uuid>,
        issued: SystemTime,
    },
}

/// A token whose every block has a shape Goflix makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shape {
    /// The grant.
    pub authority: Authority,
    /// The authority block's expiry.
    pub expires: SystemTime,
    /// The upload attenuation block's expiry, when the token carries it.
    pub upload: Option<SystemTime>,
}

impl Shape {
    /// When the token stops being valid: the earliest expiry of its blocks.
    pub fn expires_at(&self) -> SystemTime {
        self.upload
            .map_or(self.expires, |upload| upload.min(self.expires))
    }
}

/// The shape of `token`, or [`TokenError::Invalid`] when any block is not
/// one Goflix makes.
pub(super) fn inspect(token: &Biscuit) -> Result<Shape, TokenError> {
    if token.block_count() > 2 {
        return Err(foreign("more than one appended block"));
    }
    if token.external_public_keys().iter().any(Option::is_some) {
        return Err(foreign("a third-party block"));
    }
    let proto = token.container().to_proto();
    let authority = decode(&proto.authority)?;
    let mut symbols = SymbolTable::from(authority.symbols.clone()).map_err(invalid)?;
    let (authority, expires) = authority_grant(&authority, &symbols)?;
    let upload = match proto.blocks.first() {
        None => None,
        Some(_) if matches!(authority, Authority::Playback { .. }) => {
            return Err(foreign("a block appended to a playback token"))
        }
        Some(signed) => {
            let block = decode(signed)?;
            symbols
                .extend(&SymbolTable::from(block.symbols.clone()).map_err(invalid)?)
                .map_err(invalid)?;
            Some(upload_block(&block, &symbols)?)
        }
    };
    Ok(Shape {
        authority,
        expires,
        upload,
    })
}

/// One block's datalog, refusing what Goflix never writes into a block.
struct Contents {
    facts: Vec<(String, Term)>,
    checks: Vec<builder::Check>,
}

fn decode(signed: &schema::SignedBlock) -> Result<schema::Block, TokenError> {
    if signed.external_signature.is_some() {
        return Err(foreign("a third-party block"));
    }
    schema::Block::decode(signed.block.as_slice()).map_err(invalid)
}

fn contents(block: &schema::Block, symbols: &SymbolTable) -> Result<Contents, TokenError> {
    if block.context.is_some() || !block.scope.is_empty() || !block.public_keys.is_empty() {
        return Err(foreign("a block with a context, scopes or keys"));
    }
    let block = proto_block_to_token_block(block, None).map_err(invalid)?;
    if !block.rules.is_empty() {
        return Err(foreign("a rule"));
    }
    let facts = block
        .facts
        .iter()
        .map(|fact| {
            let fact = builder::Fact::convert_from(fact, symbols).map_err(invalid)?;
            match <[Term; 1]>::try_from(fact.predicate.terms) {
                Ok([term]) => Ok((fact.predicate.name, term)),
                Err(_) => Err(foreign("a fact of several terms")),
            }
        })
        .collect::<Result<_, _>>()?;
    let checks = block
        .checks
        .iter()
        .map(|c| builder::Check::convert_from(c, symbols).map_err(invalid))
        .collect::<Result<_, _>>()?;
    Ok(Contents { facts, checks })
}

/// The facts of one block by name, each taken at most once.
struct Facts(Vec<(String, Term)>);

impl Facts {
    /// The one `name` fact, if any; several are refused.
    fn optional(&mut self, name: &str) -> Result<Option<Term>, TokenError> {
        let mut found = self.all(name).into_iter();
        match (found.next(), found.next()) {
            (only, None) => Ok(only),
            _ => Err(foreign("a repeated fact")),
        }
    }

    fn one(&mut self, name: &str) -> Result<Term, TokenError> {
        self.optional(name)?
            .ok_or_else(|| foreign("a grant without a required fact"))
    }

    fn all(&mut self, name: &str) -> Vec<Term> {
        let (wanted, rest) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.0 = rest;
        wanted.into_iter().map(|(_, term)| term).collect()
    }

    /// Refuses facts nobody asked for.
    fn finish(self) -> Result<(), TokenError> {
        match self.0.is_empty() {
            true => Ok(()),
            false => Err(foreign("an unexpected fact")),
        }
    }
}

fn authority_grant(
    block: &schema::Block,
    symbols: &SymbolTable,
) -> Result<(Authority, SystemTime), TokenError> {
    let Contents { facts, checks } = contents(block, symbols)?;
    let mut facts = Facts(facts);
    let expires = date(facts.one("expires")?)?;
    let kind = string(facts.one("kind")?)?;
    let client = facts.optional("client")?.map(string).transpose()?;
    let authority = match (kind.as_str(), client) {
        ("access", None) => Authority::User {
            id: uuid(facts.one("user")?)?,
            role: string(facts.one("role")?)?
                .parse()
                .map_err(|_| foreign("an unknown role"))?,
            session: facts.optional("session")?.map(uuid).transpose()?,
        },
        ("access", Some(client_id)) => Authority::Client {
            client_id,
            owner_id: uuid(facts.one("owner")?)?,
            scopes: known_scopes(facts.all("scope"))?,
        },
        ("playback", None) => Authority::Playback {
            video: string(facts.one("video")?)?,
            user: uuid(facts.one("user")?)?,
            session: facts.optional("session")?.map(uuid).transpose()?,
            issued: date(facts.one("issued")?)?,
        },
        _ => return Err(foreign("an unknown kind")),
    };
    facts.finish()?;
    let mut expected = vec![expiry_check(expires)];
    if let Authority::Playback { video, .. } = &authority {
        let video = video.clone();
        expected.push(canonical(check!("check if requested_video({video})")));
    }
    if checks != expected {
        return Err(foreign("checks Goflix did not write"));
    }
    Ok((authority, expires))
}

/// The scopes a client token names, sorted. A scope this version does not
/// know grants nothing, so it is left out rather than refusing the token.
fn known_scopes(terms: Vec<Term>) -> Result<Vec<Scope>, TokenError> {
    let mut scopes = Vec::new();
    for term in terms {
        if let Ok(scope) = string(term)?.parse::<Scope>() {
            scopes.push(scope);
        }
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

fn upload_block(block: &schema::Block, symbols: &SymbolTable) -> Result<SystemTime, TokenError> {
    let Contents { facts, checks } = contents(block, symbols)?;
    let mut facts = Facts(facts);
    let expires = date(facts.one("expires")?)?;
    facts.finish()?;
    let expected = vec![
        canonical(check!(
            r#"check if operation($op), ["upload_video", "inspect"].contains($op)"#
        )),
        expiry_check(expires),
    ];
    if checks != expected {
        return Err(foreign(
            "an appended block that is not an upload attenuation",
        ));
    }
    Ok(expires)
}

/// `check if time($t), $t < {expires}`, as a token holds it.
fn expiry_check(expires: SystemTime) -> builder::Check {
    canonical(check!("check if time($t), $t < {expires}"))
}

/// `check` as it reads back from a token: through datalog and back, so
/// parameters are applied and nothing else differs.
fn canonical(check: builder::Check) -> builder::Check {
    let mut symbols = SymbolTable::new();
    let datalog: datalog::Check = check.convert(&mut symbols);
    builder::Check::convert_from(&datalog, &symbols).unwrap_or(check)
}

fn string(term: Term) -> Result<String, TokenError> {
    match term {
        Term::Str(s) => Ok(s),
        _ => Err(foreign("a fact of the wrong type")),
    }
}

fn uuid(term: Term) -> Result<Uuid, TokenError> {
    string(term)?.parse().map_err(|_| foreign("a malformed id"))
}

fn date(term: Term) -> Result<SystemTime, TokenError> {
    match term {
        Term::Date(secs) => UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(|| foreign("a date out of range")),
        _ => Err(foreign("a fact of the wrong type")),
    }
}

fn foreign(what: &str) -> TokenError {
    TokenError::Invalid(format!("token with {what}"))
}

fn invalid(e: impl std::fmt::Display) -> TokenError {
    TokenError::Invalid(e.to_string())
}
