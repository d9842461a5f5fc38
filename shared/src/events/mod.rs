//! Video lifecycle events (`video.queued` … `video.failed`) and the
//! [`EventBus`] that carries them from workers to the control plane. The
//! embedded bus is an in-process broadcast channel ([`memory`]); the
//! production bus is RabbitMQ's `goflix.events` topic exchange ([`amqp`]).

pub mod amqp;
pub mod memory;

pub use memory::MemoryBus;

use crate::domain::{Change, EmbeddedCaption, FailureCode, Rendition, VideoId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use std::pin::Pin;

/// One event, serialised as JSON with `type`, `video_id`, `at` and the kind's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The video the event is about.
    pub video_id: VideoId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// W3C trace context of the work that caused it (see
    /// [`crate::trace_context`]); absent when traces are not exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The job whose worker published the event; the control plane ignores
    /// events of a job that is no longer the video's current one (cancelled,
    /// or replaced by a retranscode). Absent on events of no particular job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<uuid::Uuid>,
}

impl Event {
    /// An event stamped now, in the trace of the current span.
    pub fn now(video_id: VideoId, kind: EventKind) -> Self {
        Self {
            video_id,
            at: Utc::now(),
            kind,
            traceparent: crate::trace_context::current(),
            job_id: None,
        }
    }

    /// The same event, stamped as published by the worker of `job_id`.
    pub fn for_job(self, job_id: uuid::Uuid) -> Self {
        Self {
            job_id: Some(job_id),
            ..self
        }
    }
}

/// The event kinds of the public interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// A job was enqueued.
    #[serde(rename = "video.queued")]
    Queued,
    /// A worker started the job.
    #[serde(rename = "video.processing")]
    Processing {
        /// 1 for the first delivery, more for retries.
        attempt: u32,
    },
    /// Encoding advanced.
    #[serde(rename = "video.progress")]
    Progress {
        /// Fraction done, 0.0–1.0.
        progress: f64,
    },
    /// Every rendition has its first segments stored under a live version:
    /// the video plays (growing HLS playlists) while it still encodes.
    #[serde(rename = "video.playable")]
    Playable {
        /// The live version the playback record now points at.
        version: String,
    },
    /// One rendition's files are stored.
    #[serde(rename = "video.rendition_ready")]
    RenditionReady {
        /// The rendition.
        rendition: Rendition,
    },
    /// Every rendition is published and the playback record points at them.
    #[serde(rename = "video.ready")]
    Ready {
        /// The published version.
        version: String,
        /// Duration in seconds.
        duration_s: f64,
        /// Every rendition.
        renditions: Vec<Rendition>,
        /// The master's text streams, converted to WebVTT files of the version.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        captions: Vec<EmbeddedCaption>,
        /// The rendition the version's `download.mp4` was made from, when
        /// the job wrote one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        download: Option<String>,
    },
    /// The job failed for good.
    #[serde(rename = "video.failed")]
    Failed {
        /// Stable machine-readable code.
        code: FailureCode,
        /// Human-readable explanation.
        message: String,
    },
}

impl EventKind {
    /// The routing key / wire name (`video.ready`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Queued => "video.queued",
            Self::Processing { .. } => "video.processing",
            Self::Progress { .. } => "video.progress",
            Self::Playable { .. } => "video.playable",
            Self::RenditionReady { .. } => "video.rendition_ready",
            Self::Ready { .. } => "video.ready",
            Self::Failed { .. } => "video.failed",
        }
    }

    /// How the event may move its video ([`crate::domain::VideoState::after`]).
    pub fn change(&self) -> Change {
        match self {
            Self::Queued => Change::Enqueued,
            Self::Processing { .. } => Change::Started,
            Self::Progress { .. } => Change::Progressed,
            Self::Playable { .. } | Self::RenditionReady { .. } => Change::Stored,
            Self::Ready { .. } => Change::Finished,
            Self::Failed { .. } => Change::Failed,
        }
    }

    /// Whether the job sends nothing after this event (`video.ready`,
    /// `video.failed`).
    pub fn ends_job(&self) -> bool {
        matches!(self, Self::Ready { .. } | Self::Failed { .. })
    }
}

/// A subscription: every event published after it was made.
pub type EventStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// Why the bus failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker could not be reached or refused the message.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

/// Where a publisher's events go: the bus itself, or, for a remote
/// runner, the control API that checks and republishes them.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Publishes one event; returns once the bus has accepted it.
    async fn publish(&self, event: Event) -> Result<(), BusError>;
}

/// Carries events from publishers to every subscriber.
#[async_trait]
pub trait EventBus: EventSink {
    /// Subscribes to every event published from now on (on the AMQP bus,
    /// also to those kept for the control plane while none was running;
    /// replicas subscribing there share the stream).
    async fn subscribe(&self) -> Result<EventStream, BusError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CaptionKind;

    #[test]
    fn events_serialise_with_type_video_id_and_at() {
        let event = Event::now(VideoId::new(), EventKind::Progress { progress: 0.5 });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "video.progress");
        assert_eq!(json["progress"], 0.5);
        assert!(json["at"].is_string());
        assert_eq!(json["video_id"], event.video_id.to_string());
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    /// One event of every kind. The match has no wildcard, so a new kind
    /// does not compile until it has an arm here; give it a sample too.
    fn one_of_each_kind() -> Vec<EventKind> {
        let rendition: Rendition = serde_json::from_value(serde_json::json!({
            "name": "audio", "kind": "audio", "width": null, "height": null, "frame_rate": null,
            "codecs": "mp4a.40.2", "bandwidth": 1, "average_bandwidth": 1,
        }))
        .unwrap();
        let samples = vec![
            EventKind::Queued,
            EventKind::Processing { attempt: 1 },
            EventKind::Progress { progress: 0.5 },
            EventKind::Playable {
                version: "v1".into(),
            },
            EventKind::RenditionReady {
                rendition: rendition.clone(),
            },
            EventKind::Ready {
                version: "v1".into(),
                duration_s: 1.0,
                renditions: vec![rendition],
                captions: vec![EmbeddedCaption {
                    file: "text_0.vtt".into(),
                    language: "es".into(),
                    label: None,
                    kind: CaptionKind::Subtitles,
                }],
                download: Some("720p".into()),
            },
            EventKind::Failed {
                code: FailureCode::Stalled,
                message: "stalled".into(),
            },
        ];
        for kind in &samples {
            match kind {
                EventKind::Queued
                | EventKind::Processing { .. }
                | EventKind::Progress { .. }
                | EventKind::Playable { .. }
                | EventKind::RenditionReady { .. }
                | EventKind::Ready { .. }
                | EventKind::Failed { .. } => {}
            }
        }
        samples
    }

    #[test]
    fn the_events_section_lists_every_event_kind_and_its_fields() {
        use crate::layout::tests::{code_spans, interface_table};
        let documented: Vec<(String, Vec<String>)> = interface_table("worker events")
            .iter()
            .map(|row| {
                let fields = code_spans(&row[1]).into_iter().map(str::to_owned);
                (code_spans(&row[0]).concat(), fields.collect())
            })
            .collect();
        let envelope = ["type", "video_id", "at", "traceparent", "job_id"];
        let kinds: Vec<(String, Vec<String>)> = one_of_each_kind()
            .into_iter()
            .map(|kind| {
                let json = serde_json::to_value(Event::now(VideoId::new(), kind.clone())).unwrap();
                let fields = json
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| !envelope.contains(&k.as_str()));
                (kind.name().to_owned(), fields.cloned().collect())
            })
            .collect();
        let sorted = |mut rows: Vec<(String, Vec<String>)>| {
            rows.iter_mut().for_each(|(_, fields)| fields.sort());
            rows
        };
        assert_eq!(
            sorted(documented),
            sorted(kinds),
            "docs/interface.md (Worker events) must list every event type with its fields, in EventKind's order"
        );
    }

    #[test]
    fn a_failure_carries_its_code_as_the_wire_name() {
        let kind = EventKind::Failed {
            code: FailureCode::ResourceLimit,
            message: "out of memory".into(),
        };
        let json = serde_json::to_value(Event::now(VideoId::new(), kind.clone())).unwrap();
        assert_eq!(json["type"], "video.failed");
        assert_eq!(json["code"], "resource_limit");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap().kind, kind);
    }
}
