//! Goflix transcoder: turns an uploaded master into adaptive HLS and DASH.
//!
//! [`transcode`] is the whole media job — [`probe`] opens the upload safely
//! (within the [`allow_list`] of protocols, demuxers and decoders),
//! [`ladder`] plans the renditions, [`pipeline`] decodes once and encodes every
//! rung, [`package`] indexes the CMAF files, and [`hls`] and [`dash`] write the
//! manifests; [`assets`] makes the poster and storyboard on the way.
//! [`worker`] is the job loop around it: queue, storage, events; it runs
//! each job's media work in a limited child process ([`child`], [`supervise`])
//! inside a sandbox ([`sandbox`]).

pub mod allow_list;
pub mod assets;
pub mod child;
pub mod dash;
pub mod error;
pub mod hls;
pub mod ladder;
pub mod live;
pub mod live_dash;
pub mod package;
pub mod pipeline;
pub mod probe;
mod running;
pub mod sandbox;
pub mod supervise;
mod transcode;
pub mod worker;

pub use error::MediaError;
pub use transcode::{transcode, TranscodeOptions, TranscodeOutput, DASH_MANIFEST, MASTER_PLAYLIST};
