//! Resumable uploads over tus 1.0.0 (core, `creation`,
//! `creation-with-upload`, `termination`, `expiration`, `checksum`): the
//! wire format ([`protocol`]), the per-upload lock ([`locks`]) and the
//! uploads themselves ([`uploads`]). State lives in the `uploads` table
//! and bytes in the object store ([`goflix_shared::store::Staged`]), never
//! only in one process, so an upload resumes against any replica and after
//! a restart. The HTTP side is `routes::tus`.

mod locks;
pub mod protocol;
pub mod uploads;

pub use locks::UploadLocks;
