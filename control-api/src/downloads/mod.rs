//! Downloads: a video may offer a progressive MP4 (`download.mp4`, one rung
//! and the default audio, remuxed by the transcode from the files it just
//! encoded). Whether it does is the video's choice (`downloads` at upload
//! or by `PATCH`, else `GOFLIX_DOWNLOADS`), which rung is
//! `GOFLIX_DOWNLOAD_HEIGHT`; both travel in the job's profile, so a remote
//! runner makes the same file. The row remembers the version whose
//! `download.mp4` exists; `playback.download` names it while the video
//! offers downloads.
//!
//! A video that turns downloads on after its transcode gets its file from
//! [`remux`]: the same remux, from the stored renditions of its published
//! version, in the control plane (no job, no decode, no encode).

pub(crate) mod remux;

use goflix_shared::config::Config;
use goflix_shared::domain::DownloadProfile;

/// The deployment's download settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloads {
    /// New videos offer a download unless their upload says otherwise.
    pub by_default: bool,
    /// The download is the tallest rung at most this high.
    pub max_height: u32,
}

impl Downloads {
    /// The settings of `config`.
    pub fn of(config: &Config) -> Self {
        Self {
            by_default: config.downloads,
            max_height: config.download_height,
        }
    }

    /// What a job writes for a video that offers downloads (`enabled`).
    pub fn profile(self, enabled: bool) -> Option<DownloadProfile> {
        enabled.then_some(DownloadProfile {
            max_height: self.max_height,
        })
    }
}
