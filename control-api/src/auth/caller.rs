//! Authorization as types. The [`Caller`] extractor verifies the bearer
//! biscuit; handlers then ask it for a capability — [`Uploader`],
//! [`ReadableVideo`], [`ManagedVideo`], [`VideoScope`] — whose fields are
//! private to this module. Operations that need a right take the matching
//! handle as an argument, so a handler that forgets the check does not
//! compile.

use crate::db::video;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use goflix_shared::domain::Visibility;
use goflix_shared::token::Role;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::future::{ready, Ready};
use uuid::Uuid;

/// The authenticated user behind a request.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    user_id: Uuid,
    role: Role,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("control plane state not mounted".into()))?;
    let header = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthenticated("missing_token", "send Authorization: Bearer <access token>")
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "invalid_token",
                "the Authorization header is not a bearer token",
            )
        })?;
    let claims = state.verifier.verify_access(token)?;
    Ok(Caller {
        user_id: claims.user_id,
        role: claims.role,
    })
}

impl Caller {
    /// The user's id.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The right to upload: admins and uploaders.
    pub fn require_uploader(&self) -> Result<Uploader, ApiError> {
        match self.role {
            Role::Admin | Role::Uploader => Ok(Uploader {
                owner_id: self.user_id,
            }),
            Role::Viewer => Err(ApiError::forbidden(
                "uploading needs the uploader or admin role",
            )),
        }
    }

    /// Which videos this caller's listings show: admins all, uploaders their
    /// own, viewers the public ones.
    pub fn video_scope(&self) -> VideoScope {
        VideoScope(match self.role {
            Role::Admin => Scope::All,
            Role::Uploader => Scope::OwnedBy(self.user_id),
            Role::Viewer => Scope::Public,
        })
    }

    /// The right to read `video`: its owner and admins always, anyone
    /// authenticated when it is public or unlisted. Otherwise the video is
    /// reported missing, so private ids do not leak.
    pub fn read(&self, video: video::Model) -> Result<ReadableVideo, ApiError> {
        let shared = video.visibility != Visibility::Private.as_str();
        if shared || self.is_admin() || video.owner_id == self.user_id {
            Ok(ReadableVideo(video))
        } else {
            Err(ApiError::not_found("no such video"))
        }
    }

    /// The right to change `video`: its owner and admins.
    pub fn manage(&self, video: video::Model) -> Result<ManagedVideo, ApiError> {
        let readable = self.read(video)?;
        if self.is_admin() || readable.0.owner_id == self.user_id {
            Ok(ManagedVideo(readable.0))
        } else {
            Err(ApiError::forbidden(
                "only the video's owner or an admin may do this",
            ))
        }
    }
}

/// Capability: may upload videos, owned by [`Uploader::owner_id`].
#[derive(Debug)]
pub struct Uploader {
    owner_id: Uuid,
}

impl Uploader {
    /// Who will own the uploaded video.
    pub fn owner_id(&self) -> Uuid {
        self.owner_id
    }
}

#[derive(Debug, Clone, Copy)]
enum Scope {
    All,
    OwnedBy(Uuid),
    Public,
}

/// Capability: the set of videos a caller may list.
#[derive(Debug, Clone, Copy)]
pub struct VideoScope(Scope);

impl VideoScope {
    /// One page of this scope's videos, newest first.
    pub async fn list(
        &self,
        db: &DatabaseConnection,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<ReadableVideo>, ApiError> {
        let condition = match self.0 {
            Scope::All => Condition::all(),
            Scope::OwnedBy(owner) => Condition::all().add(video::Column::OwnerId.eq(owner)),
            Scope::Public => {
                Condition::all().add(video::Column::Visibility.eq(Visibility::Public.as_str()))
            }
        };
        let rows = video::Entity::find()
            .filter(condition)
            .order_by_desc(video::Column::CreatedAt)
            .order_by_desc(video::Column::Id)
            .limit(limit)
            .offset(offset)
            .all(db)
            .await?;
        Ok(rows.into_iter().map(ReadableVideo).collect())
    }
}

/// Capability: a video the caller may read.
#[derive(Debug)]
pub struct ReadableVideo(video::Model);

impl ReadableVideo {
    /// The row.
    pub fn video(&self) -> &video::Model {
        &self.0
    }
}

/// Capability: a video the caller may change, delete and issue playback tokens for.
#[derive(Debug)]
pub struct ManagedVideo(video::Model);

impl ManagedVideo {
    /// The row.
    pub fn video(&self) -> &video::Model {
        &self.0
    }

    /// The same video after this caller changed it.
    pub fn refreshed(self, row: video::Model) -> Self {
        debug_assert_eq!(self.0.id, row.id);
        Self(row)
    }

    /// Reading is implied by managing.
    pub fn readable(self) -> ReadableVideo {
        ReadableVideo(self.0)
    }
}
