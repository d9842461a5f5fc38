//! Goflix transcoder: turns an uploaded master into adaptive HLS and DASH.
//!
//! Two halves:
//!
//! - [`media`], the media library: [`transcode`] takes a local master
//!   through probe, ladder, the one-decode pipeline, CMAF packaging and the
//!   HLS and DASH manifests (plus poster, storyboard and the live copy
//!   published while encoding). It runs in process and knows nothing of jobs.
//! - [`runtime`], the job runtime: the [`worker`](runtime::worker) loop
//!   (queue, storage, events), which runs each job's media work in a
//!   limited child process ([`child`](runtime::child),
//!   [`supervise`](runtime::supervise)) inside a
//!   [`sandbox`](runtime::sandbox).
//!
//! Media never imports runtime.

pub mod media;
pub mod runtime;

pub use media::error::MediaError;
pub use media::{transcode, TranscodeOptions, TranscodeOutput};
