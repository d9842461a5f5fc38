//! The runner's session with the control API (`Session`, one bidirectional
//! stream), and the queue, events and commands the worker sees through it.
//! The worker runs unchanged: [`RemoteQueue`] hands it the jobs the server
//! assigns, [`RemoteLease`] turns heartbeats and settlements into stream
//! messages (a settlement waits for the server's `Settled`), [`RemoteEvents`]
//! sends its events, [`RemoteCommands`] yields the server's cancels.
//!
//! [`Link::maintain`] keeps the session up, reconnecting with backoff. When
//! a session ends every lease it handed out is lost at once, so the worker
//! cancels those encodes: the server has returned them to the queue. After
//! shutdown the runner announces capacity 0 (no new jobs) and keeps the
//! session until its running jobs have settled.

use super::channel::Client;
use super::RunnerError;
use async_trait::async_trait;
use goflix_runner_proto::{
    runner_message, server_message, Assignment, Heartbeat, Hello, JobEvent, Outcome, RunnerMessage,
    ServerMessage, Settle,
};
use goflix_shared::command::{Command, CommandSource, CommandStream};
use goflix_shared::domain::{
    DownloadProfile, JobProfile, LadderMode, TranscodeJob, VideoCodec, VideoId,
};
use goflix_shared::events::{BusError, Event, EventSink};
use goflix_shared::layout::{self, AttemptVersions};
use goflix_shared::queue::{JobQueue, Lease, QueueError};
use goflix_shared::shutdown::Shutdown;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};
use tonic::Code;
use uuid::Uuid;

/// Messages queued for the server before senders wait.
const OUTBOX: usize = 64;
/// First and longest pause between reconnections.
const RECONNECT: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(30));
/// A session that lasted this long resets the backoff.
const STABLE: Duration = Duration::from_secs(30);
/// Longest wait for the server to confirm a settlement, beyond its delay.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A job the server assigned, with the token its session cancels.
struct Assigned {
    job: TranscodeJob,
    attempt: u32,
    versions: AttemptVersions,
    lost: Shutdown,
}

/// What the link knows of one assigned job.
struct JobState {
    video_id: VideoId,
    /// Cancelled when the server or the session drops the job.
    lost: Shutdown,
    /// Waits for the server's answer to a settlement.
    settled: Option<oneshot::Sender<Result<(), String>>>,
}

/// The state shared by the session and the worker's parts.
struct Inner {
    /// The current session's outbox; `None` while disconnected.
    outbox: Mutex<Option<mpsc::Sender<RunnerMessage>>>,
    assigned_tx: mpsc::UnboundedSender<Assigned>,
    assigned_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Assigned>>,
    jobs: Mutex<HashMap<Uuid, JobState>>,
    cancels: broadcast::Sender<Command>,
    /// Capacity announced in every Hello; 0 after shutdown.
    capacity: Mutex<u32>,
}

/// The runner's link to the control API.
#[derive(Clone)]
pub struct Link {
    inner: Arc<Inner>,
}

/// How a session ended.
enum SessionEnd {
    /// `stop` was cancelled.
    Stopped,
    /// The server refused the credential: retrying cannot help.
    Refused(String),
    /// The connection broke or the server went away: reconnect.
    Broken(String),
}

impl Link {
    /// A link announcing `capacity` jobs at once.
    pub fn new(capacity: u32) -> Self {
        let (assigned_tx, assigned_rx) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                outbox: Mutex::new(None),
                assigned_tx,
                assigned_rx: tokio::sync::Mutex::new(assigned_rx),
                jobs: Mutex::new(HashMap::new()),
                cancels: broadcast::channel(64).0,
                capacity: Mutex::new(capacity.max(1)),
            }),
        }
    }

    /// The worker's job source.
    pub fn queue(&self) -> RemoteQueue {
        RemoteQueue { link: self.clone() }
    }

    /// Where the worker's events go.
    pub fn events(&self) -> RemoteEvents {
        RemoteEvents { link: self.clone() }
    }

    /// Where the worker hears cancels.
    pub fn commands(&self) -> RemoteCommands {
        RemoteCommands { link: self.clone() }
    }

    /// Keeps a session with the server until `stop`; after `shutdown`,
    /// announces capacity 0 so no new job is assigned. Fails only when the
    /// server refuses the credential (revoked, or never valid).
    pub async fn maintain(
        &self,
        client: Client,
        shutdown: Shutdown,
        stop: Shutdown,
    ) -> Result<(), RunnerError> {
        let mut backoff = RECONNECT.0;
        let drained = {
            let link = self.clone();
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                *link.inner.capacity.lock().expect("capacity lock") = 0;
                let _ = link.send(hello(0)).await;
            }
        };
        let drained = tokio::spawn(drained);
        let result = loop {
            let started = Instant::now();
            match self.session(client.clone(), &stop).await {
                SessionEnd::Stopped => break Ok(()),
                SessionEnd::Refused(message) => break Err(RunnerError::Refused(message)),
                SessionEnd::Broken(reason) => {
                    if started.elapsed() > STABLE {
                        backoff = RECONNECT.0;
                    }
                    tracing::warn!(%reason, ?backoff, "session with the control API ended; reconnecting");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break Ok(()),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RECONNECT.1);
        };
        drained.abort();
        result
    }

    /// One session: Hello, Welcome, then assignments until it ends.
    async fn session(&self, mut client: Client, stop: &Shutdown) -> SessionEnd {
        let capacity = *self.inner.capacity.lock().expect("capacity lock");
        let (outbox, outgoing) = mpsc::channel(OUTBOX);
        outbox
            .try_send(hello(capacity))
            .expect("a fresh outbox has room");
        let outgoing = futures_util::stream::unfold(outgoing, |mut rx| async move {
            rx.recv().await.map(|message| (message, rx))
        });
        let opened = tokio::select! {
            _ = stop.cancelled() => return SessionEnd::Stopped,
            opened = client.session(outgoing) => opened,
        };
        let mut inbound = match opened {
            Ok(response) => response.into_inner(),
            Err(status) => return ended(status),
        };
        let session = Shutdown::new();
        let _closed = SessionGuard {
            link: self.clone(),
            session: session.clone(),
        };
        let mut welcomed = false;
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return SessionEnd::Stopped,
                message = inbound.message() => message,
            };
            let message = match message {
                Ok(Some(ServerMessage { message: Some(m) })) => m,
                Ok(Some(ServerMessage { message: None })) => continue,
                Ok(None) => return SessionEnd::Broken("the server closed the session".into()),
                Err(status) => return ended(status),
            };
            match message {
                server_message::Message::Welcome(welcome) => {
                    tracing::info!(runner_id = %welcome.runner_id, capacity, "connected to the control API");
                    *self.inner.outbox.lock().expect("outbox lock") = Some(outbox.clone());
                    welcomed = true;
                }
                _ if !welcomed => {
                    return SessionEnd::Broken("the server spoke before its welcome".into())
                }
                server_message::Message::Assignment(assignment) => {
                    self.assigned(assignment, &session);
                }
                server_message::Message::Cancel(cancel) => self.cancel(&cancel.job_id),
                server_message::Message::LeaseLost(lost) => {
                    if let Some(job) = self.take_job(&lost.job_id) {
                        tracing::warn!(job_id = %lost.job_id, "the server lost the job's lease");
                        job.lost.cancel();
                    }
                }
                server_message::Message::Settled(settled) => {
                    if let Some(JobState {
                        settled: Some(answer),
                        ..
                    }) = self.take_job(&settled.job_id)
                    {
                        let result = if settled.error.is_empty() {
                            Ok(())
                        } else {
                            Err(settled.error)
                        };
                        let _ = answer.send(result);
                    }
                }
            }
        }
    }

    /// Records an assignment and hands it to a job loop.
    fn assigned(&self, assignment: Assignment, session: &Shutdown) {
        let parsed = parse_assignment(&assignment);
        let Ok((job, attempt, versions)) = parsed else {
            tracing::error!(job_id = %assignment.job_id, "dropping a malformed assignment");
            return;
        };
        let lost = session.child_token();
        self.inner.jobs.lock().expect("jobs lock").insert(
            job.job_id,
            JobState {
                video_id: job.video_id,
                lost: lost.clone(),
                settled: None,
            },
        );
        let _ = self.inner.assigned_tx.send(Assigned {
            job,
            attempt,
            versions,
            lost,
        });
    }

    /// Passes the server's cancel of `job_id` to the worker.
    fn cancel(&self, job_id: &str) {
        let Ok(id) = job_id.parse::<Uuid>() else {
            return;
        };
        let video_id = self
            .inner
            .jobs
            .lock()
            .expect("jobs lock")
            .get(&id)
            .map(|job| job.video_id);
        if let Some(video_id) = video_id {
            let _ = self.inner.cancels.send(Command::CancelJob {
                video_id,
                job_id: id,
            });
        }
    }

    fn take_job(&self, job_id: &str) -> Option<JobState> {
        let id = job_id.parse::<Uuid>().ok()?;
        self.inner.jobs.lock().expect("jobs lock").remove(&id)
    }

    /// Queues `message` for the server; fails while disconnected.
    async fn send(&self, message: RunnerMessage) -> Result<(), ()> {
        let outbox = self.inner.outbox.lock().expect("outbox lock").clone();
        match outbox {
            Some(outbox) => outbox.send(message).await.map_err(|_| ()),
            None => Err(()),
        }
    }

    /// Whether a session is up.
    pub fn is_connected(&self) -> bool {
        self.inner
            .outbox
            .lock()
            .expect("outbox lock")
            .as_ref()
            .is_some_and(|outbox| !outbox.is_closed())
    }
}

/// Ends a session's share of the link when it ends: every job it handed
/// out is lost (the server returned them to the queue).
struct SessionGuard {
    link: Link,
    session: Shutdown,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.session.cancel();
        *self.link.inner.outbox.lock().expect("outbox lock") = None;
        self.link.inner.jobs.lock().expect("jobs lock").clear();
    }
}

fn hello(capacity: u32) -> RunnerMessage {
    RunnerMessage {
        message: Some(runner_message::Message::Hello(Hello {
            capacity,
            // Only the codecs whose encoder this FFmpeg has.
            codecs: VideoCodec::ALL
                .iter()
                .filter(|c| ffmpeg_next::encoder::find_by_name(c.encoder()).is_some())
                .map(|c| c.as_str().to_owned())
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })),
    }
}

/// How a session ended, from the status it ended with.
fn ended(status: tonic::Status) -> SessionEnd {
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => {
            SessionEnd::Refused(status.message().to_owned())
        }
        _ => SessionEnd::Broken(format!("{}: {}", status.code(), status.message())),
    }
}

/// The job, attempt and versions of an assignment, checked.
fn parse_assignment(a: &Assignment) -> Result<(TranscodeJob, u32, AttemptVersions), String> {
    let job_id = a.job_id.parse::<Uuid>().map_err(|e| e.to_string())?;
    let video_id = a.video_id.parse::<VideoId>().map_err(|e| e.to_string())?;
    if !layout::is_version(&a.version) || !layout::is_version(&a.live_version) {
        return Err("bad version".into());
    }
    let codecs = a
        .profile
        .as_ref()
        .map(|p| {
            p.codecs
                .iter()
                .map(|c| c.parse())
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_else(|| JobProfile::default().codecs);
    let download = a
        .profile
        .as_ref()
        .map(|p| p.download_max_height)
        .filter(|&max_height| max_height > 0)
        .map(|max_height| DownloadProfile { max_height });
    let ladder = match a.profile.as_ref().map(|p| p.ladder.as_str()) {
        None | Some("") => LadderMode::Fixed,
        Some(mode) => mode.parse()?,
    };
    let joins = match a.profile.as_ref().map(|p| p.joins.as_str()) {
        None | Some("") => None,
        Some(version) if layout::is_version(version) => Some(version.to_owned()),
        Some(_) => return Err("bad joined version".into()),
    };
    let job = TranscodeJob {
        job_id,
        video_id,
        traceparent: Some(a.traceparent.clone()).filter(|t| !t.is_empty()),
        profile: JobProfile {
            codecs,
            ladder,
            download,
            joins,
        },
    };
    let versions = AttemptVersions {
        output: a.version.clone(),
        live: a.live_version.clone(),
    };
    Ok((job, a.attempt.max(1), versions))
}

/// The jobs the server assigns to this runner.
pub struct RemoteQueue {
    link: Link,
}

#[async_trait]
impl JobQueue for RemoteQueue {
    async fn next(&self, shutdown: &Shutdown) -> Result<Option<Box<dyn Lease>>, QueueError> {
        let mut assigned = tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            guard = self.link.inner.assigned_rx.lock() => guard,
        };
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                next = assigned.recv() => next,
            };
            let Some(next) = next else {
                return Ok(None);
            };
            // Its session ended before a job loop took it: the server has it back.
            if next.lost.is_cancelled() {
                continue;
            }
            return Ok(Some(Box::new(RemoteLease {
                link: self.link.clone(),
                job: next.job,
                attempt: next.attempt,
                versions: next.versions,
                lost: next.lost,
            })));
        }
    }

    async fn check(&self) -> Result<(), QueueError> {
        if self.link.is_connected() {
            Ok(())
        } else {
            Err(QueueError::Unavailable(
                "not connected to the control API".into(),
            ))
        }
    }
}

/// One assignment, held until the server confirms its settlement.
struct RemoteLease {
    link: Link,
    job: TranscodeJob,
    attempt: u32,
    versions: AttemptVersions,
    lost: Shutdown,
}

impl RemoteLease {
    fn lease_lost(&self) -> QueueError {
        QueueError::LeaseLost(self.job.job_id)
    }

    /// Sends a settlement and waits for the server to confirm it.
    async fn settle(&self, outcome: Outcome, delay: Duration) -> Result<(), QueueError> {
        let (answer, answered) = oneshot::channel();
        match self
            .link
            .inner
            .jobs
            .lock()
            .expect("jobs lock")
            .get_mut(&self.job.job_id)
        {
            Some(job) => job.settled = Some(answer),
            None => return Err(self.lease_lost()),
        }
        let settle = Settle {
            job_id: self.job.job_id.to_string(),
            outcome: outcome.into(),
            retry_after_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        };
        let message = RunnerMessage {
            message: Some(runner_message::Message::Settle(settle)),
        };
        self.link
            .send(message)
            .await
            .map_err(|()| self.lease_lost())?;
        tokio::select! {
            answer = answered => match answer {
                Ok(Ok(())) => Ok(()),
                Ok(Err(message)) => Err(QueueError::Unavailable(message)),
                Err(_) => Err(self.lease_lost()),
            },
            () = self.lost.cancelled() => Err(self.lease_lost()),
            () = tokio::time::sleep(delay + SETTLE_TIMEOUT) => Err(QueueError::Unavailable(
                "the control API did not confirm the settlement".into(),
            )),
        }
    }
}

#[async_trait]
impl Lease for RemoteLease {
    fn job(&self) -> &TranscodeJob {
        &self.job
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    fn versions(&self) -> AttemptVersions {
        self.versions.clone()
    }

    async fn heartbeat(&self) -> Result<(), QueueError> {
        if self.lost.is_cancelled() {
            return Err(self.lease_lost());
        }
        let beat = RunnerMessage {
            message: Some(runner_message::Message::Heartbeat(Heartbeat {
                job_id: self.job.job_id.to_string(),
            })),
        };
        self.link.send(beat).await.map_err(|()| self.lease_lost())
    }

    async fn lost(&self) {
        self.lost.cancelled().await;
    }

    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        self.settle(Outcome::Done, Duration::ZERO).await
    }

    async fn retry(self: Box<Self>, delay: Duration) -> Result<(), QueueError> {
        self.settle(Outcome::Retry, delay).await
    }

    async fn reject(self: Box<Self>) -> Result<(), QueueError> {
        self.settle(Outcome::Rejected, Duration::ZERO).await
    }
}

/// The worker's events, sent to the server, which checks and republishes them.
pub struct RemoteEvents {
    link: Link,
}

#[async_trait]
impl EventSink for RemoteEvents {
    async fn publish(&self, event: Event) -> Result<(), BusError> {
        let Some(job_id) = event.job_id else {
            return Err(BusError::Unavailable(
                "a runner only sends events of its jobs".into(),
            ));
        };
        let message = RunnerMessage {
            message: Some(runner_message::Message::Event(JobEvent {
                job_id: job_id.to_string(),
                event_json: serde_json::to_vec(&event).expect("events serialise"),
            })),
        };
        self.link
            .send(message)
            .await
            .map_err(|()| BusError::Unavailable("not connected to the control API".into()))
    }
}

/// The server's cancels, as the worker's command source.
pub struct RemoteCommands {
    link: Link,
}

#[async_trait]
impl CommandSource for RemoteCommands {
    async fn listen(&self) -> Result<CommandStream, BusError> {
        Ok(goflix_shared::broadcast::stream(
            self.link.inner.cancels.subscribe(),
            "runner cancels",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goflix_runner_proto::JobProfile as WireProfile;

    fn assignment() -> Assignment {
        Assignment {
            job_id: Uuid::now_v7().to_string(),
            video_id: VideoId::new().to_string(),
            attempt: 2,
            version: layout::new_version(),
            live_version: layout::new_version(),
            profile: Some(WireProfile {
                codecs: vec!["h264".into()],
                download_max_height: 0,
                ladder: String::new(),
                joins: String::new(),
            }),
            traceparent: String::new(),
        }
    }

    #[test]
    fn assignments_are_checked_before_a_job_loop_sees_them() {
        let good = assignment();
        let (job, attempt, versions) = parse_assignment(&good).unwrap();
        assert_eq!(attempt, 2);
        assert_eq!(versions.output, good.version);
        assert_eq!(job.traceparent, None);
        assert_eq!(job.profile, JobProfile::default());
        let escaping = Assignment {
            version: "../other".into(),
            ..assignment()
        };
        assert!(parse_assignment(&escaping).is_err());
        let download = Assignment {
            profile: Some(WireProfile {
                codecs: vec!["h264".into()],
                download_max_height: 480,
                ladder: "per-title".into(),
                joins: String::new(),
            }),
            ..assignment()
        };
        let (job, ..) = parse_assignment(&download).unwrap();
        assert_eq!(job.profile.download.map(|d| d.max_height), Some(480));
        assert_eq!(job.profile.ladder, LadderMode::PerTitle);
        let unknown_ladder = Assignment {
            profile: Some(WireProfile {
                codecs: vec!["h264".into()],
                download_max_height: 0,
                ladder: "crf".into(),
                joins: String::new(),
            }),
            ..assignment()
        };
        assert!(parse_assignment(&unknown_ladder).is_err());
        let unknown_codec = Assignment {
            profile: Some(WireProfile {
                codecs: vec!["mpeg1".into()],
                download_max_height: 0,
                ladder: String::new(),
                joins: String::new(),
            }),
            ..assignment()
        };
        assert!(parse_assignment(&unknown_codec).is_err());
        let joining = |joins: &str| Assignment {
            profile: Some(WireProfile {
                codecs: vec!["av1".into()],
                download_max_height: 0,
                ladder: String::new(),
                joins: joins.into(),
            }),
            ..assignment()
        };
        let published = layout::new_version();
        let (job, ..) = parse_assignment(&joining(&published)).unwrap();
        assert_eq!(job.profile.codecs, [VideoCodec::Av1]);
        assert_eq!(job.profile.joins, Some(published));
        assert!(parse_assignment(&joining("../x")).is_err());
    }

    #[tokio::test]
    async fn a_lease_of_a_session_that_ended_is_lost_and_cannot_settle() {
        let link = Link::new(1);
        let session = Shutdown::new();
        link.assigned(assignment(), &session);
        let queue = link.queue();
        let lease = queue.next(&Shutdown::new()).await.unwrap().unwrap();
        session.cancel();
        link.inner.jobs.lock().unwrap().clear();
        lease.lost().await;
        assert!(matches!(
            lease.heartbeat().await,
            Err(QueueError::LeaseLost(_))
        ));
        assert!(matches!(lease.ack().await, Err(QueueError::LeaseLost(_))));
    }
}
