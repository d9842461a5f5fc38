//! ISO BMFF (MP4) without FFmpeg: the pure-Rust parts of packaging that
//! both the transcoder and the control plane need.
//!
//! - [`index`] reads the CMAF files the transcode writes: init section,
//!   `sidx`, segments and keyframes (for HLS byte ranges and DASH
//!   `SegmentBase`).
//! - [`codecs`] reads RFC 6381 codec strings from a sample description.
//! - [`progressive`] remuxes a CMAF video file and audio file into one
//!   faststart MP4 (the download file), during a transcode or later, from
//!   the stored renditions of a ready video.

pub mod codecs;
pub mod index;
pub mod progressive;
