//! Test plumbing shared by the goflix test suites (`shared/tests`,
//! `control-api/tests`, `origin/tests` and the root `tests/`), used as a
//! dev-dependency only:
//!
//! - [`var`]: a `GOFLIX_TEST_*` variable that `scripts/test-services.sh`
//!   exports; a test that needs a service fails, never skips, without it;
//! - [`postgres::TestDatabase`]: a throwaway PostgreSQL database, dropped
//!   with its guard;
//! - [`rabbitmq::TestBroker`]: RabbitMQ queue and exchange names under a
//!   prefix of the test's own ([`goflix_shared::broker::Names`]), deleted
//!   with their guard;
//! - [`s3`]: the test S3 server under a prefix of the test's own, and a
//!   private s3s-fs server a test may stop and restart;
//! - [`net::free_port`]: a port nothing listens on;
//! - [`data::pseudo_random`]: deterministic payloads.
//!
//! It depends only on crates `goflix-shared` already links.

pub mod data;
pub mod net;
pub mod postgres;
pub mod rabbitmq;
pub mod s3;
mod vars;

pub use net::free_port;
pub use vars::var;

/// Runs `work` to completion on a runtime of its own, on a thread of its
/// own: a guard's `Drop` runs inside the test's runtime, which cannot be
/// blocked on.
pub(crate) fn block_on_own_thread<T, F>(work: F) -> std::thread::Result<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test's clean-up")
            .block_on(work)
    })
    .join()
}
