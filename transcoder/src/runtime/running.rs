//! The jobs one worker process is running, so an operator's cancel
//! (`job.cancel` on the command channel) reaches the job wherever it is:
//! a running job is stopped, and the ids of cancels for jobs not running
//! here are remembered, so such a job is dropped if it arrives later (a
//! RabbitMQ message cannot be taken back out of the queue).

use crate::media::pipeline::Cancel;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// How many cancels of jobs not running here are remembered.
const REMEMBERED: usize = 4096;

/// The jobs a worker process runs; clones share the registry.
#[derive(Clone, Default)]
pub struct RunningJobs(Arc<Mutex<Registry>>);

#[derive(Default)]
struct Registry {
    running: HashMap<Uuid, Running>,
    /// Cancelled jobs not running here, oldest first.
    cancelled: VecDeque<Uuid>,
}

/// One running job's cancel flags.
#[derive(Clone, Default)]
pub(crate) struct Running {
    /// Stops the job's work.
    pub cancel: Cancel,
    /// Set with `cancel` when an operator asked: the job fails, no retry.
    pub by_operator: Cancel,
}

impl RunningJobs {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `job_id` as running here and returns its flags; `None`
    /// when an operator cancelled it already (drop the job).
    pub(crate) fn start(&self, job_id: Uuid) -> Option<Running> {
        let mut registry = self.registry();
        if let Some(at) = registry.cancelled.iter().position(|id| *id == job_id) {
            registry.cancelled.remove(at);
            return None;
        }
        let running = Running::default();
        registry.running.insert(job_id, running.clone());
        Some(running)
    }

    /// Forgets `job_id`: it no longer runs here.
    pub(crate) fn finish(&self, job_id: Uuid) {
        self.registry().running.remove(&job_id);
    }

    /// Cancels `job_id` for an operator: stops it when it runs here (then
    /// `true`), otherwise remembers to drop it should it arrive.
    pub fn cancel(&self, job_id: Uuid) -> bool {
        let mut registry = self.registry();
        if let Some(job) = registry.running.get(&job_id) {
            job.by_operator.cancel();
            job.cancel.cancel();
            return true;
        }
        if !registry.cancelled.contains(&job_id) {
            if registry.cancelled.len() == REMEMBERED {
                registry.cancelled.pop_front();
            }
            registry.cancelled.push_back(job_id);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_job_is_stopped_for_the_operator() {
        let jobs = RunningJobs::default();
        let id = Uuid::now_v7();
        let running = jobs.start(id).unwrap();
        assert!(jobs.cancel(id));
        assert!(running.cancel.is_cancelled());
        assert!(running.by_operator.is_cancelled());
    }

    #[test]
    fn a_job_cancelled_before_it_arrives_is_dropped_once() {
        let jobs = RunningJobs::default();
        let id = Uuid::now_v7();
        assert!(!jobs.cancel(id));
        assert!(jobs.start(id).is_none());
        // Redelivered after that: the cancel was used up; the control
        // plane's stale-event rule keeps such a run harmless.
        assert!(jobs.start(id).is_some());
    }

    #[test]
    fn a_finished_job_is_no_longer_running() {
        let jobs = RunningJobs::default();
        let id = Uuid::now_v7();
        jobs.start(id).unwrap();
        jobs.finish(id);
        assert!(!jobs.cancel(id));
    }

    #[test]
    fn only_the_latest_cancels_are_remembered() {
        let jobs = RunningJobs::default();
        let first = Uuid::now_v7();
        jobs.cancel(first);
        for _ in 0..REMEMBERED {
            jobs.cancel(Uuid::now_v7());
        }
        assert!(jobs.start(first).is_some());
    }
}
