//! Authorization as types. The [`authenticate_bearer`] middleware verifies
//! the bearer biscuit (signature, expiry, revocation list) before a
//! route's extractors run and the [`Caller`] extractor hands it over;
//! handlers then ask it for a
//! capability with [`Caller::require`] — [`Admin`], [`ManageUsers`],
//! [`ManageClients`], [`ManageRunners`], [`OwnAccount`], [`Uploader`] — or for a video right
//! ([`Caller::read`], [`Caller::manage`], [`Caller::video_scope`]). The
//! handles' fields are private to this module, so the only way to get one is
//! to pass the check, and the operations that need a right take the handle
//! as an argument: a handler that forgets the check does not compile.
//!
//! A caller is a user (with a role) or a service client (acting for the
//! admin who registered it, within its scopes: `videos:read` reads like a
//! viewer, `videos:write` uploads and manages that admin's videos like an
//! uploader; nothing else). [`UploadCaller`] is the extractor of
//! `POST /api/v1/videos`, which also takes a single-use upload token;
//! [`MaybeCaller`] that of the one route anonymous requests may read too
//! (`GET /api/v1/videos/{id}`: public and unlisted videos).

use super::clients;
use crate::db::{user, video};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use goflix_shared::domain::{Role, Scope, Visibility};
use goflix_shared::token::{AccessClaims, Operation, PlaybackSession, Subject, TokenKind};
use sea_orm::sea_query::{BinOper, Expr, Func, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Who is behind a request.
#[derive(Debug, Clone)]
enum Principal {
    User { id: Uuid, role: Role },
    Client { owner_id: Uuid, scopes: Vec<Scope> },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    principal: Principal,
    /// The sign-in session a user's token was issued in.
    session: Option<Uuid>,
    /// When the presented token expires.
    expires_at: DateTime<Utc>,
}

/// What [`authenticate_bearer`] leaves in a request it let through.
#[derive(Clone)]
struct Authenticated(Caller);

/// Middleware of every route whose handler takes a [`Caller`]: a request
/// presenting a bearer token has it verified on the blocking pool (never
/// on an async worker) and checked against revocations and service clients
/// before the handler's extractors run, so a refused token answers 401
/// whatever the body or path holds, and the body is not read. Requests
/// without a bearer token pass through (a handler may take other
/// authentication, or none).
pub async fn authenticate_bearer(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !presents_bearer(req.request()) {
        return next.call(req).await;
    }
    match authenticate_request(req.request()).await {
        Ok(caller) => {
            req.extensions_mut().insert(Authenticated(caller));
            next.call(req).await
        }
        Err(refused) => Ok(req.error_response(refused)),
    }
}

pub(super) async fn authenticate_request(req: &HttpRequest) -> Result<Caller, ApiError> {
    let (state, token) = bearer(req)?;
    let claims = state
        .verifier
        .run_blocking(move |v| v.verify_access(&token, Operation::Api))
        .await?;
    authenticate(&state, claims).await
}

/// Whether `req` carries `Authorization: Bearer ...`.
pub(crate) fn presents_bearer(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    /// The caller [`authenticate_bearer`] found; a route that takes a
    /// caller without that middleware fails loudly rather than unchecked.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authenticated = req.extensions().get::<Authenticated>().cloned();
        ready(match authenticated {
            Some(Authenticated(caller)) => Ok(caller),
            // No bearer token (`missing_token`, `invalid_token`), or a
            // bearer token on a route mounted without the middleware.
            None => Err(bearer(req).err().unwrap_or_else(|| {
                ApiError::Internal(
                    "this route takes a caller but is not mounted behind authenticate_bearer"
                        .into(),
                )
            })),
        })
    }
}

/// The caller of a route anonymous requests may use too: `None` for a
/// request without an `Authorization` header; with one, exactly the
/// [`Caller`] (a refused or malformed token is 401, never anonymous).
#[derive(Debug)]
pub struct MaybeCaller(Option<Caller>);

impl MaybeCaller {
    /// The caller, when the request was authenticated.
    pub fn caller(&self) -> Option<&Caller> {
        self.0.as_ref()
    }

    /// The right to read `video`: [`Caller::read`] for a caller; for an
    /// anonymous request, public and unlisted videos, every other one
    /// reported missing.
    pub fn read(&self, video: video::Model) -> Result<ReadableVideo, ApiError> {
        match &self.0 {
            Some(caller) => caller.read(video),
            None if video.visibility != Visibility::Private => Ok(ReadableVideo(video)),
            None => Err(ApiError::not_found("no such video")),
        }
    }
}

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return ready(Ok(Self(None)));
        }
        ready(
            Caller::from_request(req, payload)
                .into_inner()
                .map(|caller| Self(Some(caller))),
        )
    }
}

/// The caller of `POST /api/v1/videos`: an access token with the upload
/// right, or an attenuated one (an upload token), whose own revocation id
/// is consumed here so it cannot be used twice.
#[derive(Debug)]
pub struct UploadCaller(Uploader);

impl UploadCaller {
    /// The right to upload.
    pub fn uploader(&self) -> &Uploader {
        &self.0
    }
}

impl FromRequest for UploadCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (state, token) = bearer(&req)?;
            let claims = state
                .verifier
                .run_blocking(move |v| v.verify_access(&token, Operation::UploadVideo))
                .await?;
            let single_use = claims
                .own_revocation_id()
                .filter(|_| claims.kind == TokenKind::Attenuated)
                .map(str::to_owned);
            let caller = authenticate(&state, claims).await?;
            let uploader = caller.require::<Uploader>()?;
            if let Some(id) = single_use {
                if !state
                    .revocations
                    .consume(&state.db, &id, caller.expires_at)
                    .await?
                {
                    return Err(ApiError::unauthenticated(
                        "token_revoked",
                        "this upload token was used already, or never issued",
                    ));
                }
            }
            Ok(Self(uploader))
        })
    }
}

/// The bearer token `req` presents (for attenuating it).
pub(crate) fn presented_token(req: &HttpRequest) -> Result<String, ApiError> {
    bearer(req).map(|(_, token)| token)
}

/// The app state and the bearer token of `req`.
pub(super) fn bearer(req: &HttpRequest) -> Result<(web::Data<AppState>, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("control plane state not mounted".into()))?;
    let header = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthenticated("missing_token", "send Authorization: Bearer <access token>")
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "invalid_token",
                "the Authorization header is not a bearer token",
            )
        })?;
    Ok((state, token.to_owned()))
}

/// Turns verified claims into a caller, refusing revoked tokens and tokens
/// of clients that are deleted or whose owner is disabled or no longer an
/// admin.
async fn authenticate(state: &AppState, claims: AccessClaims) -> Result<Caller, ApiError> {
    if state
        .revocations
        .is_revoked(&state.db, &claims.revocation_ids)
        .await?
    {
        return Err(ApiError::unauthenticated(
            "token_revoked",
            "the access token has been revoked",
        ));
    }
    let principal = match claims.subject {
        Subject::User { id, role } => Principal::User { id, role },
        Subject::Client {
            client_id,
            owner_id,
            scopes,
        } => {
            if !client_acts_for_an_admin(&state.db, &client_id, owner_id).await? {
                return Err(ApiError::unauthenticated(
                    "token_revoked",
                    "the token's client has been deleted, or its owner disabled or demoted",
                ));
            }
            Principal::Client { owner_id, scopes }
        }
    };
    Ok(Caller {
        principal,
        session: claims.session,
        expires_at: claims.expires_at,
    })
}

/// Whether the client `client_id` still exists and acts for `owner_id`, an
/// enabled admin: a client's rights are its owner's, so they end when the
/// owner's admin rights do.
pub(crate) async fn client_acts_for_an_admin(
    db: &DatabaseConnection,
    client_id: &str,
    owner_id: Uuid,
) -> Result<bool, ApiError> {
    if !clients::exists(db, client_id).await? {
        return Ok(false);
    }
    Ok(user::Entity::find_by_id(owner_id)
        .one(db)
        .await?
        .is_some_and(|owner| !owner.disabled && owner.role == Role::Admin.as_str()))
}

/// A right a caller may hold; obtained only through [`Caller::require`].
pub trait Capability: Sized {
    /// The right, or why `caller` does not have it.
    fn grant(caller: &Caller) -> Result<Self, ApiError>;
}

impl Caller {
    /// The capability `C`, or 403 `forbidden`.
    pub fn require<C: Capability>(&self) -> Result<C, ApiError> {
        C::grant(self)
    }

    /// When the caller's token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The user the caller acts as (for a service client, its owner).
    pub fn user_id(&self) -> Uuid {
        match &self.principal {
            Principal::User { id, .. } => *id,
            Principal::Client { owner_id, .. } => *owner_id,
        }
    }

    /// Whom a playback token this caller asks for is issued to: the user
    /// and their sign-in session, or a client's owner without a session.
    pub fn playback_session(&self) -> PlaybackSession {
        PlaybackSession {
            user: self.user_id(),
            session: self.session,
        }
    }

    fn admin_user(&self) -> Option<Uuid> {
        match self.principal {
            Principal::User {
                id,
                role: Role::Admin,
            } => Some(id),
            _ => None,
        }
    }

    /// The role the caller has over videos, and as whom: a user's own role;
    /// a client's owner as uploader (`videos:write`) or viewer
    /// (`videos:read`); `None` for a client with neither scope.
    fn video_role(&self) -> Option<(Uuid, Role)> {
        match &self.principal {
            Principal::User { id, role } => Some((*id, *role)),
            Principal::Client { owner_id, scopes } => {
                if scopes.contains(&Scope::VideosWrite) {
                    Some((*owner_id, Role::Uploader))
                } else if scopes.contains(&Scope::VideosRead) {
                    Some((*owner_id, Role::Viewer))
                } else {
                    None
                }
            }
        }
    }

    /// Which videos this caller's listings show: admins all, uploaders their
    /// own, viewers the public ones, clients without a video scope none.
    pub fn video_scope(&self) -> VideoScope {
        VideoScope(match self.video_role() {
            Some((_, Role::Admin)) => Listed::All,
            Some((id, Role::Uploader)) => Listed::OwnedBy(id),
            Some((_, Role::Viewer)) => Listed::Public,
            None => Listed::Nothing,
        })
    }

    /// The right to read `video`: its owner and admins always, anyone with
    /// video access when it is public or unlisted. Otherwise the video is
    /// reported missing, so private ids do not leak.
    pub fn read(&self, video: video::Model) -> Result<ReadableVideo, ApiError> {
        let (id, role) = self
            .video_role()
            .ok_or_else(|| ApiError::forbidden("this client has no video scope"))?;
        let shared = video.visibility != Visibility::Private;
        if shared || role == Role::Admin || video.owner_id == id {
            Ok(ReadableVideo(video))
        } else {
            Err(ApiError::not_found("no such video"))
        }
    }

    /// The right to change `video`: its owner (with upload rights) and admins.
    pub fn manage(&self, video: video::Model) -> Result<ManagedVideo, ApiError> {
        let readable = self.read(video)?;
        let (id, role) = self.video_role().unwrap_or((Uuid::nil(), Role::Viewer));
        let owns = readable.0.owner_id == id && role != Role::Viewer;
        if role == Role::Admin || owns {
            Ok(ManagedVideo(readable.0))
        } else {
            Err(ApiError::forbidden(
                "only the video's owner or an admin may do this",
            ))
        }
    }
}

/// Capability: the caller is an admin user.
#[derive(Debug, Clone, Copy)]
pub struct Admin {
    id: Uuid,
}

impl Capability for Admin {
    fn grant(caller: &Caller) -> Result<Self, ApiError> {
        caller
            .admin_user()
            .map(|id| Self { id })
            .ok_or_else(|| ApiError::forbidden("this needs the admin role"))
    }
}

/// Capability: may create, list, change and delete any account.
#[derive(Debug, Clone, Copy)]
pub struct ManageUsers(());

impl Capability for ManageUsers {
    fn grant(caller: &Caller) -> Result<Self, ApiError> {
        caller.require::<Admin>().map(|_| Self(()))
    }
}

/// Capability: may register, list and delete service clients.
#[derive(Debug, Clone, Copy)]
pub struct ManageClients {
    admin: Admin,
}

impl ManageClients {
    /// The admin registering clients (who the clients act for).
    pub fn admin_id(&self) -> Uuid {
        self.admin.id
    }
}

impl Capability for ManageClients {
    fn grant(caller: &Caller) -> Result<Self, ApiError> {
        Ok(Self {
            admin: caller.require()?,
        })
    }
}

/// Capability: may create runner registration tokens, list and revoke runners.
#[derive(Debug, Clone, Copy)]
pub struct ManageRunners {
    admin: Admin,
}

impl ManageRunners {
    /// The admin acting.
    pub fn admin_id(&self) -> Uuid {
        self.admin.id
    }
}

impl Capability for ManageRunners {
    fn grant(caller: &Caller) -> Result<Self, ApiError> {
        Ok(Self {
            admin: caller.require()?,
        })
    }
}

/// Capability: a user acting on their own account (service clients have none).
#[derive(Debug, Clone, Copy)]
pub struct OwnAccount {
    user_id: Uuid,
}

impl OwnAccount {
    /// The account.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
}

impl Capability for OwnAccount {
    fn grant(caller: &Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::User { id, .. } => Ok(Self { user_id: id }),
            Principal::Client { .. } => Err(ApiError::forbidden(
                "service clients have no account of their own",
            )),
        }
    }
}

/// Capability: may upload videos, owned by [`Uploader::owner_id`] — admins,
/// uploaders and clients with `videos:write`.
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

impl Capability for Uploader {
    fn grant(caller: &Caller) -> Result<Self, ApiError> {
        match caller.video_role() {
            Some((id, Role::Admin | Role::Uploader)) => Ok(Self { owner_id: id }),
            _ => Err(ApiError::forbidden(
                "uploading needs the uploader or admin role",
            )),
        }
    }
}

/// Which videos a [`VideoScope`] lists.
#[derive(Debug, Clone, Copy)]
enum Listed {
    All,
    OwnedBy(Uuid),
    Public,
    Nothing,
}

/// Capability: the set of videos a caller may list.
#[derive(Debug, Clone, Copy)]
pub struct VideoScope(Listed);

impl VideoScope {
    /// One page of this scope's videos, newest first; with `title`, only
    /// those whose title contains it (case-insensitively).
    pub async fn list(
        &self,
        db: &DatabaseConnection,
        title: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<ReadableVideo>, ApiError> {
        let condition = match self.0 {
            Listed::All => Condition::all(),
            Listed::OwnedBy(owner) => Condition::all().add(video::Column::OwnerId.eq(owner)),
            Listed::Public => {
                Condition::all().add(video::Column::Visibility.eq(Visibility::Public.as_str()))
            }
            Listed::Nothing => return Ok(Vec::new()),
        };
        let condition = match title {
            // `LOWER` on both sides, so both are folded by the same rules
            // (SQLite's fold ASCII only, PostgreSQL's all of Unicode).
            Some(text) => condition.add(title_contains(text)),
            None => condition,
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

    /// Whether this scope lists the video `id` as it is stored now (a
    /// video that no longer exists is listed to admins only).
    pub async fn lists(&self, db: &DatabaseConnection, id: Uuid) -> Result<bool, ApiError> {
        let row = || video::Entity::find_by_id(id).one(db);
        Ok(match self.0 {
            Listed::All => true,
            Listed::OwnedBy(owner) => row().await?.is_some_and(|row| row.owner_id == owner),
            Listed::Public => row()
                .await?
                .is_some_and(|row| row.visibility == Visibility::Public),
            Listed::Nothing => false,
        })
    }
}

/// `LOWER(title) LIKE LOWER('%text%') ESCAPE '\'`, `text` matched literally.
fn title_contains(text: &str) -> SimpleExpr {
    let pattern = SimpleExpr::Binary(
        Box::new(Func::lower(Expr::val(format!("%{}%", escape_like(text)))).into()),
        BinOper::Escape,
        Box::new(SimpleExpr::Constant(LIKE_ESCAPE.into())),
    );
    Expr::expr(Func::lower(Expr::col(video::Column::Title))).binary(BinOper::Like, pattern)
}

/// The escape character of title searches' `LIKE` patterns.
const LIKE_ESCAPE: char = '\\';

/// `text` with `LIKE`'s wildcards (`%`, `_`) and [`LIKE_ESCAPE`] escaped,
/// so each matches itself.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_and_the_escape_match_themselves() {
        assert_eq!(escape_like("50% off_now"), "50\\% off\\_now");
        assert_eq!(escape_like("a\\b"), "a\\\\b");
        assert_eq!(escape_like("Plain Ünïcode"), "Plain Ünïcode");
    }
}
