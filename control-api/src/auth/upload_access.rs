//! Who may use a tus upload ([`UploadAccess`]): whoever created it, with
//! an access token that carries the upload right (an uploader, an admin,
//! a service client with `videos:write`, all acting for the owner), or
//! anyone holding the upload's direct-upload token. A direct-upload token
//! is 256 random bits with the [`TOKEN_PREFIX`], stored only as its SHA-256
//! in the upload's row, and opens exactly that one upload: it is not a
//! biscuit, so every other route refuses it as an invalid token; it stops
//! working when the upload completes (its hash is cleared), expires, or
//! its owner is disabled or loses the upload right.

use super::caller::{authenticate_request, bearer};
use super::session::digest;
use super::Uploader;
use crate::db::{now_ms, upload, user};
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use goflix_shared::domain::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// How every direct-upload token starts.
pub const TOKEN_PREFIX: &str = "gfu_";

/// A new direct-upload token and the hash its upload's row stores.
pub fn new_token() -> (String, String) {
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
    let hash = digest(&token);
    (token, hash)
}

/// The caller of a tus route.
#[derive(Debug)]
pub enum UploadAccess {
    /// An access token with the upload right: the owner's own uploads,
    /// and creating new ones.
    Owner(Uploader),
    /// A direct-upload token: the one upload it was issued for.
    Token {
        /// That upload.
        upload_id: Uuid,
    },
}

impl UploadAccess {
    /// Whether this caller may see and change `upload`.
    pub fn may_use(&self, upload: &upload::Model) -> bool {
        match self {
            Self::Owner(uploader) => uploader.owner_id() == upload.owner_id,
            Self::Token { upload_id } => *upload_id == upload.id,
        }
    }
}

impl FromRequest for UploadAccess {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (state, token) = bearer(&req)?;
            if !token.starts_with(TOKEN_PREFIX) {
                let caller = authenticate_request(&req).await?;
                return Ok(Self::Owner(caller.require::<Uploader>()?));
            }
            let spent = || {
                ApiError::unauthenticated(
                    "token_revoked",
                    "this upload token is spent, expired or was never issued",
                )
            };
            let row = upload::Entity::find()
                .filter(upload::Column::TokenHash.eq(digest(&token)))
                .filter(upload::Column::ExpiresAt.gt(now_ms()))
                .one(&state.db)
                .await?
                .ok_or_else(spent)?;
            let owner_may_upload = user::Entity::find_by_id(row.owner_id)
                .one(&state.db)
                .await?
                .is_some_and(|owner| {
                    !owner.disabled
                        && [Role::Admin.as_str(), Role::Uploader.as_str()]
                            .contains(&owner.role.as_str())
                });
            if !owner_may_upload {
                return Err(spent());
            }
            Ok(Self::Token { upload_id: row.id })
        })
    }
}
