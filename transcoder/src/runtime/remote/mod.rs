//! A remote transcoding runner (`goflix runner --server URL`): the same
//! worker, media pipeline and child-process isolation as `goflix
//! transcoder`, with the control API's gRPC port as its only peer. It holds
//! no database, broker or storage credential: jobs, events and cancels
//! travel on one session stream ([`link`]), masters and outputs on
//! per-object calls ([`store`]), all authorised by the runner's own
//! credential ([`credential`]) over one HTTP/2 channel ([`channel`]).
//! See `docs/design/runners.md`.

mod channel;
pub mod credential;
mod link;
mod store;

use crate::media::TranscodeOptions;
use crate::runtime::supervise::Isolation;
use crate::runtime::worker::{RunningJobs, Worker};
use goflix_shared::shutdown::Shutdown;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use link::Link;
pub use store::{RemoteStore, CHUNK};

/// Why a runner could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A setting or argument is wrong.
    #[error("{0}")]
    Config(String),
    /// The server refused the registration token or the credential.
    #[error("the control API refused this runner: {0}")]
    Refused(String),
    /// The server could not be reached or failed.
    #[error("the control API failed: {0}")]
    Server(String),
    /// A local file could not be read or written.
    #[error("{path}: {error}", path = .0.display(), error = .1)]
    Io(PathBuf, std::io::Error),
}

impl RunnerError {
    /// The error a refused or failed call means.
    pub(crate) fn from_status(status: tonic::Status) -> Self {
        match status.code() {
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                Self::Refused(status.message().to_owned())
            }
            code => Self::Server(format!("{code}: {}", status.message())),
        }
    }
}

/// How to start a runner.
pub struct RunnerOptions {
    /// The control API's gRPC address, `http://host:port` or `https://host:port`.
    pub server: String,
    /// An extra authority to trust for the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Where the credential is kept.
    pub data_dir: PathBuf,
    /// Shown to admins.
    pub name: String,
    /// The registration token, needed on first start only.
    pub registration_token: Option<String>,
    /// Jobs at once.
    pub concurrency: usize,
    /// How each job's child process is run and limited.
    pub isolation: Isolation,
    /// How long running jobs may go on after shutdown.
    pub drain: Duration,
}

/// A registered runner, ready to run.
pub struct Runner {
    link: Link,
    client: channel::Client,
    worker: Worker,
    concurrency: usize,
}

impl Runner {
    /// Opens the channel and loads the credential, registering first if
    /// the data dir has none.
    pub async fn start(options: RunnerOptions) -> Result<Self, RunnerError> {
        let channel = channel::open(&options.server, options.ca_file.as_deref())?;
        let credential = credential::load_or_register(
            &options.data_dir,
            &channel,
            credential::Registration {
                name: &options.name,
                token: options.registration_token.as_deref(),
            },
        )
        .await?;
        let client = channel::client(channel, &credential)?;
        let concurrency = options.concurrency.clamp(1, usize::from(u16::MAX));
        let link = Link::new(concurrency as u32);
        let worker = Worker {
            store: Arc::new(RemoteStore::new(client.clone())),
            queue: Arc::new(link.queue()),
            bus: Arc::new(link.events()),
            options: TranscodeOptions::default(),
            drain: options.drain,
            isolation: options.isolation,
            commands: Arc::new(link.commands()),
            running: RunningJobs::default(),
        };
        Ok(Self {
            link,
            client,
            worker,
            concurrency,
        })
    }

    /// Whether the session with the server is up (for `/readyz`).
    pub fn link(&self) -> Link {
        self.link.clone()
    }

    /// Runs jobs until `shutdown` and the drain are over; fails at once
    /// when the server refuses the credential (revoked).
    pub async fn run(self, shutdown: Shutdown) -> Result<(), RunnerError> {
        let stop = Shutdown::new();
        let session = self
            .link
            .maintain(self.client, shutdown.clone(), stop.clone());
        tokio::pin!(session);
        let work = self.worker.run(self.concurrency, shutdown.clone());
        tokio::pin!(work);
        tokio::select! {
            () = &mut work => {
                stop.cancel();
                session.await
            }
            ended = &mut session => {
                // Refused: every lease is lost already; let the loops end.
                shutdown.cancel();
                work.await;
                ended
            }
        }
    }
}
