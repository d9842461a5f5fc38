//! A job attempt's failure: a [`JobError`] carries the [`Failure`] the
//! video records and the decision, taken where the attempt failed, whether
//! the job is retried or aborted.

use goflix_shared::domain::FailureCode;
use std::fmt::Display;

/// A job's failure as the video records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The stable code.
    pub code: FailureCode,
    /// What happened, for admins and the logs.
    pub message: String,
}

/// Why a job attempt ended without output, with the decision taken where
/// it failed (as pict-rs's job errors do).
#[derive(Debug, Clone, PartialEq)]
pub enum JobError {
    /// Retrying cannot help (the master is at fault, or an operator
    /// decided): the job fails for good.
    Abort(Failure),
    /// Worth another attempt; once attempts run out the job fails with
    /// this failure (`retries_exhausted`, or a precise cause such as
    /// `resource_limit`).
    Retry(Failure),
    /// The work was stopped from outside (an operator's cancel, the lease
    /// lost, shutdown); who stopped it decides how the job is settled.
    Stopped,
}

impl JobError {
    /// Fails the job for good with `code`.
    pub fn abort(code: FailureCode, message: impl Into<String>) -> Self {
        Self::Abort(Failure {
            code,
            message: message.into(),
        })
    }

    /// Fails the attempt, to be retried; `code` once attempts run out.
    pub fn retry(code: FailureCode, message: impl Into<String>) -> Self {
        Self::Retry(Failure {
            code,
            message: message.into(),
        })
    }
}

/// Decides at the call site that an error is worth another attempt (as
/// pict-rs's `.retry()?`); failures that are not come with their own code
/// ([`JobError::abort`]).
pub trait JobResult<T> {
    /// The error is worth another attempt (`retries_exhausted` once
    /// attempts run out), with its text as the reason.
    fn retry(self) -> Result<T, JobError>;
}

impl<T, E: Display> JobResult<T> for Result<T, E> {
    fn retry(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::retry(FailureCode::RetriesExhausted, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_error_keeps_its_text_and_exhausts_retries() {
        let failed: Result<(), &str> = Err("no scratch space");
        assert_eq!(
            failed.retry(),
            Err(JobError::Retry(Failure {
                code: FailureCode::RetriesExhausted,
                message: "no scratch space".into(),
            }))
        );
        assert_eq!(Ok::<u8, &str>(1).retry(), Ok(1));
    }
}
