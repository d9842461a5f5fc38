//! Authentication and authorization: password hashing ([`password`]),
//! OAuth sessions — access biscuits plus rotating refresh token families —
//! ([`session`]), service clients ([`clients`]), the revocation list
//! checked on every request ([`revocation`]), the playback revocation feed
//! published to the origins ([`playback_revocations`]), mailed single-use tokens
//! ([`account_token`]), rate limits on secret-checking endpoints
//! ([`rate_limit`]), and the [`Caller`] extractor whose capabilities are the
//! only way to obtain the typed handles that privileged operations require
//! ([`caller`]), and the callers of tus uploads, direct-upload tokens
//! included ([`upload_access`]).

pub mod account_token;
pub mod caller;
pub mod clients;
pub mod password;
pub mod playback_revocations;
pub mod rate_limit;
pub mod revocation;
pub mod session;
pub mod upload_access;

pub use caller::{
    authenticate_bearer, Admin, Caller, ManageClients, ManageRunners, ManageUsers, ManagedVideo,
    MaybeCaller, OwnAccount, ReadableVideo, UploadCaller, Uploader, VideoScope,
};
pub(crate) use caller::{presented_token, presents_bearer};
