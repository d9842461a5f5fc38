//! The job runtime: what runs [`crate::media`] as jobs. [`worker`] is the
//! job loop (queue, storage, events, live publishing); it runs each
//! job's media work in a limited child process — [`supervise`] is the
//! worker's side of that boundary, [`child`] the child's (its JSON request
//! and reports), and [`sandbox`] the environment, descriptors, user,
//! Landlock and seccomp the child runs in; [`job_error`] is how an attempt
//! fails, retried or aborted.
//!
//! [`remote`] runs the same worker as a remote runner, with the control
//! API's gRPC port standing in for the queue, the event bus and storage.
//!
//! The rule: the runtime imports the media library, never the reverse
//! (media never imports runtime).

pub mod child;
pub mod job_error;
pub mod remote;
mod running;
pub mod sandbox;
pub mod supervise;
pub mod worker;
