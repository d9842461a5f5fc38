//! The lifecycle of a video: its [`VideoState`] (stored as its lowercase
//! wire name in the `videos.state` column), the [`Change`]s that may move
//! it, and the one transition function, [`VideoState::after`]. Every
//! query that moves a video derives its filter and its new state from it
//! ([`Change::applies_in`], [`Change::leads_to`]).
//!
//! ```text
//! importing ─imported─▶ queued
//!     └──────import_failed/cancelled─────────────────────────────▶ failed
//! uploaded ─enqueued─▶ queued ─started─▶ processing ─finished─▶ ready
//!     └──────────────────┴──────────────────┴───failed/cancelled─▶ failed
//! ready, failed ─retranscoded─▶ queued
//! ```
//!
//! An `importing` video has no job yet: the control plane is fetching its
//! master from a URL (`import_progressed` keeps it there); only the import
//! moves it, never a worker's event.

use super::wire::wire_name;
use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};
use sea_orm::Iterable;
use serde::{Deserialize, Serialize};

/// Lifecycle of a video.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, DeriveActiveEnum, EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "lowercase"
)]
pub enum VideoState {
    /// The control plane is fetching the master from a URL; no job exists yet.
    Importing,
    /// The master is stored; no job exists yet.
    Uploaded,
    /// A transcode job waits in the queue.
    Queued,
    /// A worker is transcoding.
    Processing,
    /// Every rendition is published.
    Ready,
    /// The job failed for good; see the error.
    Failed,
}

/// What may move a video: its job's events and operators' requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter)]
pub enum Change {
    /// An import stored the whole master and enqueued its job.
    Imported,
    /// An import received more bytes, or started again from byte zero.
    ImportProgressed,
    /// An import failed for good.
    ImportFailed,
    /// A job was enqueued (`video.queued`).
    Enqueued,
    /// A worker started the job (`video.processing`).
    Started,
    /// Encoding advanced (`video.progress`).
    Progressed,
    /// The job stored output without finishing: a rendition
    /// (`video.rendition_ready`) or a live copy that plays (`video.playable`).
    Stored,
    /// Every rendition is published (`video.ready`).
    Finished,
    /// The job failed for good (`video.failed`).
    Failed,
    /// An operator cancelled the job or the import.
    Cancelled,
    /// An admin asked for a new transcode of the kept master.
    Retranscoded,
}

impl VideoState {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Importing => "importing",
            Self::Uploaded => "uploaded",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    /// The state a video in this state is in after `change`, or `None`
    /// when it ignores the change: a `ready` or `failed` video has no job
    /// whose events could move it, and only it can be retranscoded; an
    /// `importing` one moves only by its import or a cancel.
    pub fn after(self, change: Change) -> Option<Self> {
        use VideoState::*;
        let has_job = self.has_job();
        let importing = self == Importing;
        match change {
            Change::Imported => importing.then_some(Queued),
            Change::ImportProgressed => importing.then_some(Importing),
            Change::ImportFailed => importing.then_some(Failed),
            Change::Enqueued => (self == Uploaded).then_some(Queued),
            Change::Started => matches!(self, Uploaded | Queued).then_some(Processing),
            Change::Progressed => has_job.then_some(Processing),
            Change::Stored => has_job.then_some(self),
            Change::Finished => has_job.then_some(Ready),
            Change::Failed => has_job.then_some(Failed),
            Change::Cancelled => (has_job || importing).then_some(Failed),
            Change::Retranscoded => self.is_final().then_some(Queued),
        }
    }

    /// Whether the video's job is queued or running: its events may still
    /// move the video, and an operator can cancel it.
    pub fn has_job(self) -> bool {
        matches!(self, Self::Uploaded | Self::Queued | Self::Processing)
    }

    /// Whether nothing moves the video any more but a retranscode: it is
    /// `ready` or `failed`.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ready | Self::Failed)
    }
}

impl Change {
    /// The states this change moves a video from; every other ignores it.
    pub fn applies_in(self) -> impl Iterator<Item = VideoState> {
        VideoState::iter().filter(move |state| state.after(self).is_some())
    }

    /// The one state the change leads to from every state it applies in;
    /// `None` when it leaves each state as it was ([`Change::Stored`]).
    pub fn leads_to(self) -> Option<VideoState> {
        let mut targets = self.applies_in().filter_map(|state| state.after(self));
        let first = targets.next()?;
        targets.all(|state| state == first).then_some(first)
    }
}

wire_name!(VideoState, VideoState::iter(), |s| format!(
    "unknown video state {s:?}"
));

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ActiveEnum;
    use VideoState::*;

    #[test]
    fn the_column_and_json_hold_todays_names() {
        let names: Vec<String> = VideoState::iter().map(|s| s.to_value()).collect();
        assert_eq!(
            names,
            [
                "importing",
                "uploaded",
                "queued",
                "processing",
                "ready",
                "failed"
            ]
        );
        for state in VideoState::iter() {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
            assert_eq!(state.as_str().parse::<VideoState>(), Ok(state));
            assert_eq!(
                VideoState::try_from_value(&state.to_value()).unwrap(),
                state
            );
        }
        assert!("Ready".parse::<VideoState>().is_err());
    }

    #[test]
    fn every_change_is_one_conditional_update() {
        // Either every state it applies in moves to one state, or each stays.
        for change in Change::iter() {
            let moves: Vec<(VideoState, VideoState)> = change
                .applies_in()
                .map(|from| (from, from.after(change).unwrap()))
                .collect();
            assert!(!moves.is_empty(), "{change:?} never applies");
            match change.leads_to() {
                Some(to) => assert!(moves.iter().all(|(_, t)| *t == to), "{change:?}"),
                None => assert!(moves.iter().all(|(f, t)| f == t), "{change:?}"),
            }
        }
    }

    #[test]
    fn the_lifecycle_is_todays() {
        let table = |change: Change| -> Vec<Option<VideoState>> {
            VideoState::iter().map(|s| s.after(change)).collect()
        };
        let (n, s) = (None, Some);
        // Columns: importing, uploaded, queued, processing, ready, failed.
        assert_eq!(table(Change::Imported), [s(Queued), n, n, n, n, n]);
        assert_eq!(
            table(Change::ImportProgressed),
            [s(Importing), n, n, n, n, n]
        );
        assert_eq!(table(Change::ImportFailed), [s(Failed), n, n, n, n, n]);
        assert_eq!(table(Change::Enqueued), [n, s(Queued), n, n, n, n]);
        assert_eq!(
            table(Change::Started),
            [n, s(Processing), s(Processing), n, n, n]
        );
        let progressed = [n, s(Processing), s(Processing), s(Processing), n, n];
        assert_eq!(table(Change::Progressed), progressed);
        assert_eq!(
            table(Change::Stored),
            [n, s(Uploaded), s(Queued), s(Processing), n, n]
        );
        assert_eq!(
            table(Change::Finished),
            [n, s(Ready), s(Ready), s(Ready), n, n]
        );
        assert_eq!(
            table(Change::Failed),
            [n, s(Failed), s(Failed), s(Failed), n, n]
        );
        assert_eq!(
            table(Change::Cancelled),
            [s(Failed), s(Failed), s(Failed), s(Failed), n, n]
        );
        assert_eq!(
            table(Change::Retranscoded),
            [n, n, n, n, s(Queued), s(Queued)]
        );
        let with_job: Vec<bool> = VideoState::iter().map(|s| s.has_job()).collect();
        assert_eq!(with_job, [false, true, true, true, false, false]);
        let settled: Vec<bool> = VideoState::iter().map(|s| s.is_final()).collect();
        assert_eq!(settled, [false, false, false, false, true, true]);
    }
}
