//! The job runtime: what runs [`crate::media`] as jobs. [`worker`] is the
//! job loop (queue, storage, events, live publishing); it runs each
//! job's media work in a limited child process — [`supervise`] is the
//! worker's side of that boundary, [`child`] the child's (its JSON request
//! and reports), and [`sandbox`] the environment, descriptors, user,
//! Landlock and seccomp the child runs in; [`job_error`] is how an attempt
//! fails, retried or aborted.
//!
//! The rule: the runtime imports the media library, never the reverse
//! (media never imports runtime), so another runner, such as a remote
//! transcoding client, can reuse the child-process boundary and the media
//! library as they are.

pub mod child;
pub mod job_error;
mod running;
pub mod sandbox;
pub mod supervise;
pub mod worker;
