//! Remote transcoding runners: machines outside the cluster that transcode
//! over the control API's gRPC port (`goflix.runner.v1`) and hold no
//! database, broker or storage credential. [`credentials`] registers them,
//! [`grpc`] serves the protocol, [`session`] runs one runner's session:
//! it consumes the same job queue the in-cluster workers do on the
//! runner's behalf and relays each lease's heartbeats and settlement, so
//! retries, dead letters, cancels and events behave as for any worker.
//! The [`RunnerHub`] knows the sessions this replica holds, what each
//! runner was granted (the objects of its jobs, [`Grant`]) and routes
//! cancels and revocations to them. See `docs/design/runners.md`.

pub mod credentials;
pub mod grpc;
mod session;

use futures_util::StreamExt;
use goflix_shared::command::{Command, CommandBus};
use goflix_shared::domain::VideoId;
use goflix_shared::events::EventBus;
use goflix_shared::layout::{self, AttemptVersions};
use goflix_shared::queue::JobQueue;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectKey, Store};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Opens a consumer of the job queue for one runner session holding at
/// most `capacity` jobs (on RabbitMQ its own channel and prefetch, closed
/// with the session, so nothing it took stays with this replica).
pub type QueueOpener = Arc<dyn Fn(u16) -> Arc<dyn JobQueue> + Send + Sync>;

/// What a runner may touch for one job it holds: the video's master and
/// playback record (read) and the attempt's two version folders (write).
#[derive(Debug, Clone)]
pub struct Grant {
    /// The job.
    pub job_id: Uuid,
    /// Its video.
    pub video_id: VideoId,
    /// The version folders of this attempt.
    pub versions: AttemptVersions,
}

impl Grant {
    /// Whether the grant lets the runner read `key`.
    fn reads(&self, key: &ObjectKey) -> bool {
        *key == layout::master(self.video_id) || *key == layout::playback_record(self.video_id)
    }

    /// The attempt's version folders.
    fn prefixes(&self) -> [String; 2] {
        [
            layout::version_prefix(self.video_id, &self.versions.output),
            layout::version_prefix(self.video_id, &self.versions.live),
        ]
    }

    /// Whether the grant lets the runner write `key`.
    fn writes(&self, key: &ObjectKey) -> bool {
        self.prefixes()
            .iter()
            .any(|prefix| key.as_str().len() > prefix.len() && key.as_str().starts_with(prefix))
    }

    /// Whether the grant lets the runner delete everything under `prefix`.
    fn deletes(&self, prefix: &str) -> bool {
        self.prefixes().iter().any(|own| own == prefix)
    }
}

/// A session this replica holds.
struct SessionHandle {
    /// Tells sessions of the same runner apart (a reconnect replaces one).
    id: Uuid,
    /// The SHA-256 of the runner's credential, so the object calls of a
    /// connected runner authenticate without a database query.
    credential_hash: String,
    /// Cancelled to close the session (revoked, or replaced).
    close: Shutdown,
    /// The grants of the jobs it holds.
    grants: Arc<Mutex<HashMap<Uuid, Grant>>>,
    /// Cancels of its jobs, for the session to send.
    cancels: mpsc::UnboundedSender<Uuid>,
}

/// Everything the runner service needs, shared by its calls.
#[derive(Clone)]
pub struct RunnerHub {
    inner: Arc<HubInner>,
}

struct HubInner {
    db: DatabaseConnection,
    store: Store,
    bus: Arc<dyn EventBus>,
    queues: QueueOpener,
    sessions: Mutex<HashMap<Uuid, SessionHandle>>,
}

impl RunnerHub {
    /// A hub over the control plane's database, store, event bus and queue.
    pub fn new(
        db: DatabaseConnection,
        store: Store,
        bus: Arc<dyn EventBus>,
        queues: QueueOpener,
    ) -> Self {
        Self {
            inner: Arc::new(HubInner {
                db,
                store,
                bus,
                queues,
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The grant of runner `runner_id` that satisfies `allowed`, if any
    /// (only sessions on this replica count: a runner's calls share one
    /// HTTP/2 connection, so they reach the replica holding its session).
    fn grant_where(&self, runner_id: Uuid, allowed: impl Fn(&Grant) -> bool) -> Option<Grant> {
        let sessions = self.inner.sessions.lock().expect("sessions lock");
        let session = sessions.get(&runner_id)?;
        let grants = session.grants.lock().expect("grants lock");
        grants.values().find(|grant| allowed(grant)).cloned()
    }

    /// The runner with a session here whose credential has SHA-256 `hash`.
    fn connected_runner(&self, hash: &str) -> Option<Uuid> {
        let sessions = self.inner.sessions.lock().expect("sessions lock");
        sessions
            .iter()
            .find(|(_, session)| session.credential_hash == hash)
            .map(|(runner, _)| *runner)
    }

    /// Adds a session of `runner_id`, closing one it replaces.
    fn open_session(&self, runner_id: Uuid, handle: SessionHandle) {
        let replaced = self
            .inner
            .sessions
            .lock()
            .expect("sessions lock")
            .insert(runner_id, handle);
        if let Some(old) = replaced {
            tracing::info!(%runner_id, "a new session of the runner replaces its old one");
            old.close.cancel();
        }
    }

    /// Forgets session `session_id` of `runner_id`, unless replaced already.
    fn close_session(&self, runner_id: Uuid, session_id: Uuid) {
        let mut sessions = self.inner.sessions.lock().expect("sessions lock");
        if sessions.get(&runner_id).is_some_and(|s| s.id == session_id) {
            sessions.remove(&runner_id);
        }
    }

    /// Closes the session of a revoked runner, if this replica holds it;
    /// its jobs return to the queue.
    pub fn revoked(&self, runner_id: Uuid) {
        let session = self
            .inner
            .sessions
            .lock()
            .expect("sessions lock")
            .remove(&runner_id);
        if let Some(session) = session {
            tracing::info!(%runner_id, "runner revoked: closing its session");
            session.close.cancel();
        }
    }

    /// Passes an operator's cancel of `job_id` to the runner holding it here.
    fn cancel(&self, job_id: Uuid) {
        let sessions = self.inner.sessions.lock().expect("sessions lock");
        for session in sessions.values() {
            if session
                .grants
                .lock()
                .expect("grants lock")
                .contains_key(&job_id)
            {
                let _ = session.cancels.send(job_id);
            }
        }
    }

    /// Follows the command channel until `shutdown`, passing cancels and
    /// revocations to the sessions this replica holds.
    pub async fn follow_commands(&self, commands: Arc<dyn CommandBus>, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(500);
        loop {
            match commands.listen().await {
                Ok(mut stream) => {
                    backoff = Duration::from_millis(500);
                    loop {
                        let command = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            command = stream.next() => command,
                        };
                        match command {
                            Some(Command::CancelJob { job_id, .. }) => self.cancel(job_id),
                            Some(Command::RevokeRunner { runner_id }) => self.revoked(runner_id),
                            None => break,
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?backoff, "runner hub: command channel unavailable")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_covers_its_video_and_its_own_versions_only() {
        let video = VideoId::new();
        let grant = Grant {
            job_id: Uuid::now_v7(),
            video_id: video,
            versions: AttemptVersions::fresh(),
        };
        let key = |k: String| ObjectKey::new(k).unwrap();
        assert!(grant.reads(&layout::master(video)));
        assert!(grant.reads(&layout::playback_record(video)));
        assert!(!grant.reads(&layout::master(VideoId::new())));
        let own = layout::media_file(video, &grant.versions.output, "720p.mp4").unwrap();
        assert!(grant.writes(&own));
        assert!(!grant.reads(&own));
        let live = layout::media_file(video, &grant.versions.live, "720p.m3u8").unwrap();
        assert!(grant.writes(&live));
        let other = layout::media_file(video, &layout::new_version(), "720p.mp4").unwrap();
        assert!(!grant.writes(&other));
        assert!(!grant.writes(&layout::playback_record(video)));
        assert!(!grant.writes(&layout::master(video)));
        let prefix = layout::version_prefix(video, &grant.versions.output);
        assert!(!grant.writes(&key(prefix.trim_end_matches('/').to_owned() + "x/a")));
        assert!(grant.deletes(&prefix));
        assert!(!grant.deletes(&layout::media_prefix(video)));
        assert!(!grant.deletes(""));
    }
}
