//! Service clients for the `client_credentials` grant (RFC 6749 §4.4):
//! admins register them with a set of [`Scope`]s; the secret is shown once
//! and stored as its SHA-256. A client authenticates with HTTP Basic
//! (RFC 6749 §2.3.1) or `client_id`/`client_secret` form fields, and acts
//! for the admin who registered it, within its scopes.

use super::caller::ManageClients;
use super::session::{digest, TokenResponse};
use crate::db::{now_ms, oauth_client};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::HttpRequest;
use base64::Engine;
use goflix_shared::domain::Scope;
use goflix_shared::token::Grant;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use std::time::Duration;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Lifetime of a client's access token.
pub const CLIENT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Longest client name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// Parses a space-separated scope list (RFC 6749 §3.3) into sorted,
/// deduplicated known scopes.
pub fn parse_scopes(list: &str) -> Result<Vec<Scope>, ApiError> {
    let mut scopes = list
        .split(' ')
        .filter(|name| !name.is_empty())
        .map(|name| {
            name.parse::<Scope>()
                .map_err(|message| ApiError::oauth("invalid_scope", message))
        })
        .collect::<Result<Vec<_>, _>>()?;
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// The scopes stored for a client (written by [`register`], so all known).
fn granted_scopes(client: &oauth_client::Model) -> Vec<Scope> {
    client
        .scopes
        .split(' ')
        .filter_map(|name| name.parse().ok())
        .collect()
}

/// A registered client with its secret, which is never shown again.
#[derive(Debug)]
pub struct Registered {
    /// The row.
    pub client: oauth_client::Model,
    /// The secret.
    pub secret: String,
}

/// Registers a client acting for the registering admin.
pub async fn register(
    db: &DatabaseConnection,
    right: &ManageClients,
    name: &str,
    scopes: &str,
) -> Result<Registered, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a client name has 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let scopes =
        parse_scopes(scopes).map_err(|e| ApiError::bad_request("invalid_scope", e.to_string()))?;
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_scope",
            "a client needs at least one scope",
        ));
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let client = oauth_client::ActiveModel {
        id: Set(Uuid::now_v7()),
        client_id: Set(format!("gfx_{}", hex::encode(rand::random::<[u8; 12]>()))),
        name: Set(name.to_owned()),
        secret_hash: Set(digest(&secret)),
        scopes: Set(Scope::list(&scopes)),
        owner_id: Set(right.admin_id()),
        created_at: Set(now_ms()),
    }
    .insert(db)
    .await?;
    Ok(Registered { client, secret })
}

/// Every client, oldest first.
pub async fn list(
    db: &DatabaseConnection,
    _: &ManageClients,
) -> Result<Vec<oauth_client::Model>, ApiError> {
    Ok(oauth_client::Entity::find()
        .order_by_asc(oauth_client::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Deletes the client with public id `client_id`; its tokens stop working
/// at once. `false` when there is no such client.
pub async fn delete(
    db: &DatabaseConnection,
    _: &ManageClients,
    client_id: &str,
) -> Result<bool, ApiError> {
    let deleted = oauth_client::Entity::delete_many()
        .filter(oauth_client::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Whether the client still exists (checked for each client token).
pub async fn exists(db: &DatabaseConnection, client_id: &str) -> Result<bool, ApiError> {
    Ok(oauth_client::Entity::find()
        .filter(oauth_client::Column::ClientId.eq(client_id))
        .count(db)
        .await?
        > 0)
}

/// A client that proved its secret on this request.
#[derive(Debug)]
pub struct AuthenticatedClient(oauth_client::Model);

fn invalid_client() -> ApiError {
    ApiError::oauth("invalid_client", "client authentication failed")
}

/// The client credentials a request presents: HTTP Basic, else the form
/// fields; `None` when it presents none.
pub fn presented_credentials(
    req: &HttpRequest,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Option<(String, String)>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| invalid_client())?.trim();
        if let Some((scheme, encoded)) = value.split_once(' ') {
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(invalid_client)?;
                let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
                return Ok(Some((id.to_owned(), secret.to_owned())));
            }
        }
    }
    match (form_id, form_secret) {
        (Some(id), Some(secret)) => Ok(Some((id.to_owned(), secret.to_owned()))),
        (None, None) => Ok(None),
        _ => Err(invalid_client()),
    }
}

/// Checks a client's secret; unknown clients and wrong secrets get the same
/// `invalid_client`, after the same work.
pub async fn authenticate(
    db: &DatabaseConnection,
    client_id: &str,
    secret: &str,
) -> Result<AuthenticatedClient, ApiError> {
    let row = oauth_client::Entity::find()
        .filter(oauth_client::Column::ClientId.eq(client_id))
        .one(db)
        .await?;
    let presented = digest(secret);
    let stored = row
        .as_ref()
        .map(|r| r.secret_hash.clone())
        .unwrap_or_else(|| digest(""));
    let matches: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
    match row {
        Some(row) if matches => Ok(AuthenticatedClient(row)),
        _ => Err(invalid_client()),
    }
}

/// The `client_credentials` grant: an access token with the requested
/// scopes (all of the client's when none are requested), no refresh token.
pub fn client_credentials_grant(
    state: &AppState,
    client: &AuthenticatedClient,
    requested: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let granted = granted_scopes(&client.0);
    let scopes = match requested {
        None => granted,
        Some(list) => {
            let wanted = parse_scopes(list)?;
            if let Some(extra) = wanted.iter().find(|s| !granted.contains(s)) {
                return Err(ApiError::oauth(
                    "invalid_scope",
                    format!("this client is not granted {:?}", extra.as_str()),
                ));
            }
            wanted
        }
    };
    let issued = state.issuer.issue(
        &Grant::Client {
            client_id: &client.0.client_id,
            owner_id: client.0.owner_id,
            scopes: &scopes,
        },
        CLIENT_TOKEN_TTL,
    )?;
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: CLIENT_TOKEN_TTL.as_secs(),
        refresh_token: None,
        scope: Some(Scope::list(&scopes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_into_a_sorted_set_of_known_names() {
        assert_eq!(
            parse_scopes("videos:write  videos:read videos:write").unwrap(),
            vec![Scope::VideosRead, Scope::VideosWrite]
        );
        assert!(parse_scopes("").unwrap().is_empty());
        for bad in ["admin", "videos:*", "VIDEOS:READ", "videos:read\tadmin"] {
            assert_eq!(parse_scopes(bad).unwrap_err().code(), "invalid_scope");
        }
    }
}
