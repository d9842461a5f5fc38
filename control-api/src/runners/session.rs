//! One runner's session: the Hello (capacity and codecs), the Welcome,
//! then up to `capacity` slots each taking a job from the queue on the
//! runner's behalf and holding its lease while the runner works: every
//! heartbeat renews it, the runner's settlement settles it (then
//! `Settled`), and a job whose lease is lost, whose runner goes silent for
//! [`LEASE_TIMEOUT`] or whose session ends is dropped or released to the
//! queue. Events are checked against the job's grant before they are
//! republished. The session re-reads the runner's row every [`RECHECK`]:
//! a revoked runner is cut off even if the revocation command was missed.

use super::credentials::{self, CurrentJob};
use super::{Grant, RunnerHub, SessionHandle};
use crate::db::runner;
use goflix_runner_proto::{
    runner_message, server_message, Assignment, Cancel, Hello, JobProfile as WireProfile,
    LeaseLost, Outcome, RunnerMessage, ServerMessage, Settled, Welcome,
};
use goflix_shared::domain::VideoCodec;
use goflix_shared::events::{Event, EventKind};
use goflix_shared::layout::AttemptVersions;
use goflix_shared::queue::{JobQueue, Lease, QueueError};
use goflix_shared::shutdown::Shutdown;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tonic::{Status, Streaming};
use uuid::Uuid;

/// How long a job may go without a heartbeat before it is released.
const LEASE_TIMEOUT: Duration = Duration::from_secs(45);
/// How often the runner must heartbeat each job.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long the first message may take.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the runner's row is re-read (revocation) and its last-seen time written.
const RECHECK: Duration = Duration::from_secs(15);
/// The most jobs one runner holds at once.
const MAX_CAPACITY: u32 = 64;
/// The longest a runner may ask a job to wait before its retry.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);
/// Pause after the queue failed or handed out a job the runner cannot do.
const SLOT_PAUSE: Duration = Duration::from_secs(1);

/// Where the session's messages to the runner go.
pub(super) type Outbound = mpsc::Sender<Result<ServerMessage, Status>>;

/// What the session's reader tells the slot holding a job.
enum JobMessage {
    Heartbeat,
    Settle { outcome: Outcome, delay: Duration },
}

/// What one session shares between its reader and its slots.
struct Context {
    hub: RunnerHub,
    runner: runner::Model,
    version: String,
    codecs: Vec<VideoCodec>,
    out: Outbound,
    grants: Arc<Mutex<HashMap<Uuid, Grant>>>,
    jobs: Mutex<HashMap<Uuid, mpsc::UnboundedSender<JobMessage>>>,
    /// Held from reading the grants to writing them ([`Context::record`]),
    /// so the rows are written in the order the grants were read.
    recording: tokio::sync::Mutex<()>,
}

fn server(message: server_message::Message) -> Result<ServerMessage, Status> {
    Ok(ServerMessage {
        message: Some(message),
    })
}

/// Runs the session of `runner` on `inbound` until it ends, closing the
/// stream with a status that says why.
pub(super) async fn run(
    hub: RunnerHub,
    runner: runner::Model,
    mut inbound: Streaming<RunnerMessage>,
    out: Outbound,
) {
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
        Ok(Ok(Some(RunnerMessage {
            message: Some(runner_message::Message::Hello(hello)),
        }))) => hello,
        _ => {
            let _ = out
                .send(Err(Status::invalid_argument(
                    "a session starts with a Hello",
                )))
                .await;
            return;
        }
    };
    let runner_id = runner.id;
    let session_id = Uuid::now_v7();
    let close = Shutdown::new();
    let (cancels, mut cancelled) = mpsc::unbounded_channel();
    let grants = Arc::new(Mutex::new(HashMap::new()));
    hub.open_session(
        runner_id,
        SessionHandle {
            id: session_id,
            credential_hash: runner.credential_hash.clone(),
            close: close.clone(),
            grants: grants.clone(),
            cancels,
        },
    );
    let first_capacity = hello.capacity.min(MAX_CAPACITY);
    let context = Arc::new(Context {
        hub: hub.clone(),
        codecs: hello.codecs.iter().filter_map(|c| c.parse().ok()).collect(),
        version: hello.version.clone(),
        runner,
        out: out.clone(),
        grants,
        jobs: Mutex::new(HashMap::new()),
        recording: tokio::sync::Mutex::new(()),
    });
    tracing::info!(%runner_id, capacity = first_capacity, codecs = ?context.codecs, "runner connected");
    let welcome = server_message::Message::Welcome(Welcome {
        runner_id: runner_id.to_string(),
        heartbeat_interval_ms: HEARTBEAT.as_millis() as u64,
    });
    if out.send(server(welcome)).await.is_err() {
        hub.close_session(runner_id, session_id);
        return;
    }
    let queue = (hub.inner.queues)(first_capacity.max(1) as u16);
    let (capacity, watched) = watch::channel(first_capacity);
    let stops = Stops::of_session(&close);
    let taking = stops.taking.clone();
    let slots: Vec<_> = (0..first_capacity)
        .map(|index| {
            let stops = stops.clone();
            tokio::spawn(slot(
                index,
                context.clone(),
                queue.clone(),
                watched.clone(),
                stops,
            ))
        })
        .collect();
    context.record().await;
    let ended = read(&context, &mut inbound, &capacity, &mut cancelled, &close).await;
    if let Some(status) = ended {
        let _ = out.send(Err(status)).await;
    }
    // Stop taking jobs, then close the consumer: on RabbitMQ its channel
    // returns every delivery it holds to the queue at once, counted once,
    // as a dead worker's would be. Then the held jobs are released (the
    // database queue needs that; on RabbitMQ they are back already).
    taking.cancel();
    queue.close().await;
    close.cancel();
    for slot in slots {
        let _ = slot.await;
    }
    hub.close_session(runner_id, session_id);
    context.record().await;
    tracing::info!(%runner_id, "runner session ended");
}

/// Reads the runner's messages until the session ends; the status to end
/// the stream with, if the server ends it.
async fn read(
    context: &Context,
    inbound: &mut Streaming<RunnerMessage>,
    capacity: &watch::Sender<u32>,
    cancelled: &mut mpsc::UnboundedReceiver<Uuid>,
    close: &Shutdown,
) -> Option<Status> {
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    let first_capacity = *capacity.borrow();
    loop {
        let message = tokio::select! {
            () = close.cancelled() => return Some(context.closed_status().await),
            Some(job_id) = cancelled.recv() => {
                let cancel = server_message::Message::Cancel(Cancel { job_id: job_id.to_string() });
                let _ = context.out.send(server(cancel)).await;
                continue;
            }
            _ = recheck.tick() => {
                match credentials::is_revoked(&context.hub.inner.db, context.runner.id).await {
                    Ok(true) => return Some(Status::unauthenticated("this runner was revoked")),
                    Ok(false) => context.record().await,
                    Err(e) => tracing::warn!(error = %e, "could not re-read the runner"),
                }
                continue;
            }
            message = inbound.message() => message,
        };
        let message = match message {
            Ok(Some(RunnerMessage { message: Some(m) })) => m,
            Ok(Some(RunnerMessage { message: None })) => continue,
            Ok(None) => return None,
            Err(status) => {
                tracing::info!(runner_id = %context.runner.id, %status, "runner stream broke");
                return None;
            }
        };
        match message {
            runner_message::Message::Hello(Hello { capacity: c, .. }) => {
                // Capacity may drop (0 drains the runner), not grow past the first Hello's.
                let _ = capacity.send(c.min(first_capacity));
            }
            runner_message::Message::Heartbeat(beat) => {
                context.to_job(&beat.job_id, JobMessage::Heartbeat);
            }
            runner_message::Message::Settle(settle) => {
                let outcome = Outcome::try_from(settle.outcome).unwrap_or(Outcome::Unspecified);
                if outcome == Outcome::Unspecified {
                    return Some(Status::invalid_argument("a settlement needs an outcome"));
                }
                let delay = Duration::from_millis(settle.retry_after_ms).min(MAX_RETRY_DELAY);
                if !context.to_job(&settle.job_id, JobMessage::Settle { outcome, delay }) {
                    // Not held (lost meanwhile): the runner's lease is lost too.
                    let lost = server_message::Message::LeaseLost(LeaseLost {
                        job_id: settle.job_id,
                    });
                    let _ = context.out.send(server(lost)).await;
                }
            }
            runner_message::Message::Event(event) => {
                context.publish(&event.job_id, &event.event_json).await
            }
        }
    }
}

impl Context {
    /// Passes `message` to the slot holding `job_id`; whether one does.
    fn to_job(&self, job_id: &str, message: JobMessage) -> bool {
        let Ok(id) = job_id.parse::<Uuid>() else {
            return false;
        };
        let jobs = self.jobs.lock().expect("jobs lock");
        jobs.get(&id).is_some_and(|job| job.send(message).is_ok())
    }

    /// Republishes a runner's event of `job_id` if its grant allows it.
    async fn publish(&self, job_id: &str, json: &[u8]) {
        let grant = job_id
            .parse::<Uuid>()
            .ok()
            .and_then(|id| self.grants.lock().expect("grants lock").get(&id).cloned());
        let Some(grant) = grant else {
            tracing::info!(runner_id = %self.runner.id, job_id, "dropping an event of a job the runner does not hold");
            return;
        };
        match checked_event(json, &grant) {
            Ok(event) => {
                if let Err(e) = self.hub.inner.bus.publish(event).await {
                    tracing::warn!(error = %e, "could not republish a runner's event");
                }
            }
            Err(reason) => {
                tracing::warn!(runner_id = %self.runner.id, job_id, %reason, "dropping a runner's event");
            }
        }
    }

    /// Why the session was closed from this side.
    async fn closed_status(&self) -> Status {
        match credentials::is_revoked(&self.hub.inner.db, self.runner.id).await {
            Ok(false) => Status::aborted("a newer session of this runner replaced this one"),
            _ => Status::unauthenticated("this runner was revoked"),
        }
    }

    /// Writes the runner's last-seen time and current jobs. One write at a
    /// time, each reading the grants when its turn comes: an older list
    /// (the session's first write, racing a slot's first grant) never
    /// lands after a newer one.
    async fn record(&self) {
        let _turn = self.recording.lock().await;
        let jobs: Vec<CurrentJob> = self
            .grants
            .lock()
            .expect("grants lock")
            .values()
            .map(|grant| CurrentJob {
                job_id: grant.job_id,
                video_id: grant.video_id.0,
            })
            .collect();
        let recorded =
            credentials::seen(&self.hub.inner.db, self.runner.id, &self.version, &jobs).await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record the runner's jobs");
        }
    }

    async fn send(&self, message: server_message::Message) -> bool {
        self.out.send(server(message)).await.is_ok()
    }
}

/// The runner's event, if it is one of `grant`'s job and names only the
/// attempt's own versions.
fn checked_event(json: &[u8], grant: &Grant) -> Result<Event, String> {
    let event: Event = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    if event.video_id != grant.video_id || event.job_id != Some(grant.job_id) {
        return Err("the event is not of the job".into());
    }
    match &event.kind {
        EventKind::Queued => Err("runners do not queue jobs".into()),
        EventKind::Playable { version } if *version != grant.versions.live => {
            Err("not the attempt's live version".into())
        }
        EventKind::Ready { version, .. } if *version != grant.versions.output => {
            Err("not the attempt's version".into())
        }
        _ => Ok(event),
    }
}

/// How a held job ended on the server's side.
enum End {
    /// The runner settled it.
    Settle(Outcome, Duration),
    /// The queue lost the lease: dropped unsettled.
    Lost,
    /// No heartbeat for [`LEASE_TIMEOUT`]: released.
    Silent,
    /// The session ended: released.
    Closed,
}

/// What ends a slot's work: `taking` stops it taking jobs, `holding`
/// releases the job it holds (the session ended).
#[derive(Clone)]
struct Stops {
    taking: Shutdown,
    holding: Shutdown,
}

impl Stops {
    /// The stops of a session's slots, `close` ending the session: closing
    /// it (a revocation, a newer session of the runner, the stream's end)
    /// also stops every slot taking jobs, so a slot whose job was just
    /// released cannot lease it again for a session that is gone (which
    /// would spend an attempt of the job).
    fn of_session(close: &Shutdown) -> Self {
        Self {
            taking: close.child_token(),
            holding: close.clone(),
        }
    }
}

/// One slot: while its index is below the runner's capacity, takes a job
/// the runner can do and holds it until it ends.
async fn slot(
    index: u32,
    context: Arc<Context>,
    queue: Arc<dyn JobQueue>,
    mut capacity: watch::Receiver<u32>,
    stops: Stops,
) {
    let stop = &stops.taking;
    loop {
        while *capacity.borrow_and_update() <= index {
            tokio::select! {
                () = stop.cancelled() => return,
                changed = capacity.changed() => if changed.is_err() { return },
            }
        }
        let lease = match queue.next(stop).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "runner slot: job queue unavailable");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(SLOT_PAUSE) => continue,
                }
            }
        };
        if !lease.job().profile.fits(&context.codecs) {
            tracing::info!(job_id = %lease.job().job_id, "the runner cannot encode this job's codecs; returning it");
            release(lease).await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SLOT_PAUSE) => continue,
            }
        }
        hold(&context, lease, &stops.holding).await;
    }
}

/// Assigns the leased job to the runner and holds the lease until the job ends.
async fn hold(context: &Context, lease: Box<dyn Lease>, stop: &Shutdown) {
    let job = lease.job().clone();
    let grant = Grant {
        job_id: job.job_id,
        video_id: job.video_id,
        versions: AttemptVersions::fresh(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    context
        .jobs
        .lock()
        .expect("jobs lock")
        .insert(job.job_id, tx);
    context
        .grants
        .lock()
        .expect("grants lock")
        .insert(job.job_id, grant.clone());
    context.record().await;
    let assignment = server_message::Message::Assignment(Assignment {
        job_id: job.job_id.to_string(),
        video_id: job.video_id.to_string(),
        attempt: lease.attempt(),
        version: grant.versions.output.clone(),
        live_version: grant.versions.live.clone(),
        profile: Some(WireProfile {
            codecs: job
                .profile
                .codecs
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            download_max_height: job.profile.download.map_or(0, |d| d.max_height),
            ladder: job.profile.ladder.as_str().to_owned(),
            joins: job.profile.joins.clone().unwrap_or_default(),
        }),
        traceparent: job.traceparent.clone().unwrap_or_default(),
    });
    tracing::info!(runner_id = %context.runner.id, job_id = %job.job_id, attempt = lease.attempt(), "job assigned to a runner");
    let end = if context.send(assignment).await {
        held(&*lease, &mut rx, stop).await
    } else {
        End::Closed
    };
    context.jobs.lock().expect("jobs lock").remove(&job.job_id);
    context
        .grants
        .lock()
        .expect("grants lock")
        .remove(&job.job_id);
    let job_id = job.job_id.to_string();
    match end {
        End::Settle(outcome, delay) => {
            let settled = match outcome {
                Outcome::Done => lease.ack().await,
                Outcome::Retry => lease.retry(delay).await,
                Outcome::Rejected | Outcome::Unspecified => lease.reject().await,
            };
            let error = match settled {
                Ok(()) => String::new(),
                Err(e) => e.to_string(),
            };
            context
                .send(server_message::Message::Settled(Settled { job_id, error }))
                .await;
        }
        End::Lost => {
            tracing::warn!(%job_id, "the lease of a runner's job was lost");
            context
                .send(server_message::Message::LeaseLost(LeaseLost { job_id }))
                .await;
        }
        End::Silent => {
            tracing::warn!(%job_id, "no heartbeat from the runner: releasing its job");
            release(lease).await;
            context
                .send(server_message::Message::LeaseLost(LeaseLost { job_id }))
                .await;
        }
        End::Closed => release(lease).await,
    }
    context.record().await;
}

/// Waits for the job held under `lease` to end.
async fn held(
    lease: &dyn Lease,
    messages: &mut mpsc::UnboundedReceiver<JobMessage>,
    stop: &Shutdown,
) -> End {
    let mut deadline = Instant::now() + LEASE_TIMEOUT;
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Some(JobMessage::Heartbeat) => {
                    deadline = Instant::now() + LEASE_TIMEOUT;
                    match lease.heartbeat().await {
                        Ok(()) => {}
                        Err(QueueError::LeaseLost(_)) => return End::Lost,
                        Err(e) => tracing::warn!(error = %e, "heartbeat of a runner's job failed"),
                    }
                }
                Some(JobMessage::Settle { outcome, delay }) => return End::Settle(outcome, delay),
                None => return End::Closed,
            },
            () = lease.lost() => return End::Lost,
            () = tokio::time::sleep_until(deadline) => return End::Silent,
            () = stop.cancelled() => return End::Closed,
        }
    }
}

/// Returns a job to the queue at once, for another worker or runner.
async fn release(lease: Box<dyn Lease>) {
    match lease.retry(Duration::ZERO).await {
        Ok(()) => {}
        // Its consumer closed: the queue has it back already.
        Err(QueueError::LeaseLost(_)) => {}
        Err(e) => tracing::warn!(error = %e, "could not return a runner's job to the queue"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goflix_shared::domain::VideoId;

    fn grant() -> Grant {
        Grant {
            job_id: Uuid::now_v7(),
            video_id: VideoId::new(),
            versions: AttemptVersions::fresh(),
        }
    }

    fn json(grant: &Grant, kind: EventKind) -> Vec<u8> {
        serde_json::to_vec(&Event::now(grant.video_id, kind).for_job(grant.job_id)).unwrap()
    }

    #[test]
    fn closing_a_session_stops_its_slots_taking_jobs() {
        let close = Shutdown::new();
        let stops = Stops::of_session(&close);
        close.cancel();
        assert!(stops.holding.is_cancelled());
        assert!(
            stops.taking.is_cancelled(),
            "a closed session's slot would take another job"
        );
        // Its end stops the taking first, and the holding only after.
        let close = Shutdown::new();
        let stops = Stops::of_session(&close);
        stops.taking.cancel();
        assert!(!stops.holding.is_cancelled());
    }

    #[test]
    fn a_runner_may_only_announce_its_own_job_and_versions() {
        let grant = grant();
        let progress = json(&grant, EventKind::Progress { progress: 0.5 });
        assert!(checked_event(&progress, &grant).is_ok());
        let live = EventKind::Playable {
            version: grant.versions.live.clone(),
        };
        assert!(checked_event(&json(&grant, live), &grant).is_ok());
        let foreign_version = EventKind::Ready {
            version: goflix_shared::layout::new_version(),
            duration_s: 1.0,
            renditions: Vec::new(),
            captions: Vec::new(),
            download: None,
        };
        assert!(checked_event(&json(&grant, foreign_version), &grant).is_err());
        let other_video = serde_json::to_vec(
            &Event::now(VideoId::new(), EventKind::Progress { progress: 0.1 })
                .for_job(grant.job_id),
        )
        .unwrap();
        assert!(checked_event(&other_video, &grant).is_err());
        let untied = serde_json::to_vec(&Event::now(
            grant.video_id,
            EventKind::Progress { progress: 0.1 },
        ))
        .unwrap();
        assert!(checked_event(&untied, &grant).is_err());
        assert!(checked_event(&json(&grant, EventKind::Queued), &grant).is_err());
        assert!(checked_event(b"{not json", &grant).is_err());
    }
}
