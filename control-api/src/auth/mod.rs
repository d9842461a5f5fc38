//! Authentication and authorization: password hashing ([`password`]),
//! OAuth sessions — access biscuits plus rotating refresh tokens —
//! ([`session`]), and the [`Caller`] extractor whose capability methods are
//! the only way to obtain the typed handles that privileged operations
//! require ([`caller`]).

pub mod caller;
pub mod password;
pub mod session;

pub use caller::{Caller, ManagedVideo, ReadableVideo, Uploader};
