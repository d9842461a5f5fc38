//! The media library: everything that turns a local master into the files
//! of one version, in process and without a job around it. [`transcode()`] is
//! the whole of it — [`probe`] opens the upload safely (within the
//! [`allow_list`] of protocols, demuxers and decoders), [`ladder`] plans the
//! renditions, [`pipeline`] decodes once and encodes every rung, [`package`]
//! indexes the CMAF files, and [`hls`] and [`dash`] write the manifests;
//! [`assets`] makes the poster and storyboard on the way, and [`quality`]
//! measures the rungs a `per-title` ladder keeps. [`live`] and
//! [`live_dash`] publish the live copy written while encoding, and
//! [`error`] holds the failures with their stable codes.
//!
//! The rule of this half: media never imports [`crate::runtime`]. It knows
//! nothing of queues, child processes or sandboxes, so any runner (the
//! worker's child process, or a remote one) can call it unchanged.

pub mod allow_list;
pub mod assets;
pub mod dash;
pub mod error;
pub mod hls;
pub mod ladder;
pub mod live;
pub mod live_dash;
pub mod package;
pub mod pipeline;
pub mod probe;
pub mod quality;
mod transcode;

pub use transcode::{transcode, TranscodeOptions, TranscodeOutput, DASH_MANIFEST, MASTER_PLAYLIST};
