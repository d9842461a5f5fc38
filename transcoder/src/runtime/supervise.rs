//! The worker's side of a job's child process ([`crate::runtime::child`]): start it
//! in its own process group, hand it the request, follow its reports, and
//! kill the whole group when the job is cancelled, when it overruns the wall
//! time, or when it stops making progress; the child is always reaped.
//! The child starts inside its sandbox ([`crate::runtime::sandbox`]).

use crate::media::pipeline::Cancel;
use crate::media::TranscodeOutput;
use crate::runtime::child::{ChildRequest, Limits, Report};
use crate::runtime::job_error::{JobError, JobResult};
use crate::runtime::sandbox::Sandbox;
use goflix_shared::config::Config;
use goflix_shared::domain::{FailureCode, VideoId};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The hidden subcommand of the `goflix` executable that runs a child.
pub const CHILD_SUBCOMMAND: &str = "transcode-child";
/// How often the supervisor checks for cancellation, overrun and stalls.
const CHECK_EVERY: Duration = Duration::from_millis(200);
/// How long a child gets to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// How much of the child's standard error is kept for the failure reason.
const STDERR_TAIL: usize = 16 * 1024;
/// What a child says when it ran out of memory or threads (most likely its
/// address-space limit): from the OS (`ENOMEM`, `EAGAIN` from thread
/// creation), x264, and Rust's allocation-failure abort.
const OUT_OF_RESOURCES: &[&str] = &[
    "Cannot allocate memory",
    "Resource temporarily unavailable",
    "malloc of size",
    "memory allocation of",
];

/// Whether `text` tells of a child out of memory or threads.
fn out_of_resources(text: &str) -> bool {
    OUT_OF_RESOURCES.iter().any(|marker| text.contains(marker))
}

/// How jobs are isolated.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    /// The `goflix` executable to run as `goflix transcode-child`.
    pub executable: PathBuf,
    /// Limits the child applies to itself.
    pub limits: Limits,
    /// Longest a child may run.
    pub wall_time: Duration,
    /// Longest a child may go without progress.
    pub stall_timeout: Duration,
}

impl Isolation {
    /// The isolation `config` asks for: its limits, and its
    /// `job_executable` or else the running executable. CPU time is capped
    /// at the wall time on every core.
    pub fn from_config(config: &Config) -> std::io::Result<Self> {
        let executable = match &config.job_executable {
            Some(path) => path.clone(),
            None => std::env::current_exe()?,
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        Ok(Self {
            executable,
            limits: Limits {
                memory_bytes: config.job_memory_mb.saturating_mul(1 << 20),
                cpu_seconds: config.job_wall.as_secs().saturating_mul(cores),
            },
            wall_time: config.job_wall,
            stall_timeout: config.stall_timeout,
        })
    }
}

/// Runs `request` for the video `video_id` in a child process and returns
/// what it produced, or why the job fails, decided here where the child's
/// end is seen: a media error the child reports aborts the job unless the
/// limits caused it; a child that crashed, overran or stalled is retried.
/// `progress` receives the share done; the output folders growing also
/// counts as progress.
pub async fn run(
    isolation: &Isolation,
    video_id: VideoId,
    request: &ChildRequest,
    cancel: &Cancel,
    progress: mpsc::Sender<f64>,
) -> Result<TranscodeOutput, JobError> {
    let mut child = spawn(isolation, video_id, request)
        .await
        .map_err(|e| format!("could not start {}: {e}", isolation.executable.display()))
        .retry()?;
    let pid = child.id();
    let stderr = child.stderr.take().map(keep_tail);
    let stdout = child.stdout.take().expect("stdout is piped");
    let watchdog = Watchdog::new(isolation, request);
    let followed = follow(stdout, watchdog, cancel, progress).await;
    let status = match &followed {
        Err(_) => kill(&mut child, pid).await,
        Ok(_) => child.wait().await,
    };
    let stderr = match stderr {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    let last = followed.inspect_err(|error| tracing::warn!(?error, "transcode child killed"))?;
    match (status, last) {
        (Ok(status), Some(Report::Done { output })) if status.success() => Ok(output),
        (Ok(status), Some(Report::Failed { code, message })) if status.success() => {
            Err(reported(code, message, &stderr))
        }
        (status, _) => Err(crashed(status, &stderr)),
    }
}

/// Keeps the last [`STDERR_TAIL`] bytes the child writes on `pipe`.
fn keep_tail(mut pipe: ChildStderr) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut tail = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            let excess = tail.len().saturating_sub(STDERR_TAIL);
            tail.drain(..excess);
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

/// Follows the child's reports until it closes its output (then its last
/// `done` or `failed` report, if any) or until it must be killed: `cancel`
/// fired ([`JobError::Stopped`]) or the `watchdog` gave up on it.
async fn follow(
    stdout: ChildStdout,
    mut watchdog: Watchdog,
    cancel: &Cancel,
    progress: mpsc::Sender<f64>,
) -> Result<Option<Report>, JobError> {
    let mut lines = BufReader::new(stdout).lines();
    let mut last = None;
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => match serde_json::from_str::<Report>(&line) {
                    Ok(Report::Started { pid }) => tracing::info!(child_pid = pid, "transcode child started"),
                    Ok(Report::Progress { fraction }) => {
                        watchdog.reported(fraction);
                        let _ = progress.try_send(fraction);
                    }
                    Ok(report) => last = Some(report),
                    Err(e) => tracing::warn!(error = %e, %line, "unreadable line from the transcode child"),
                },
                Ok(None) | Err(_) => return Ok(last),
            },
            _ = check.tick() => {
                if cancel.is_cancelled() {
                    return Err(JobError::Stopped);
                }
                watchdog.check().await?;
            }
        }
    }
}

/// Gives up on a child that overran its wall time or made no progress
/// (no better progress report, no growth of its output folders) for the
/// stall timeout.
struct Watchdog {
    wall_time: Duration,
    stall_timeout: Duration,
    /// The output folders, whose growth counts as progress.
    folders: Vec<PathBuf>,
    started: Instant,
    /// When progress was last seen.
    moved: Instant,
    /// The best progress reported and the most bytes seen in the folders.
    best: (f64, u64),
}

impl Watchdog {
    fn new(isolation: &Isolation, request: &ChildRequest) -> Self {
        Self {
            wall_time: isolation.wall_time,
            stall_timeout: isolation.stall_timeout,
            folders: std::iter::once(request.out_dir.clone())
                .chain(request.live_dir.clone())
                .collect(),
            started: Instant::now(),
            moved: Instant::now(),
            best: (-1.0, 0),
        }
    }

    /// The child reported `fraction` done.
    fn reported(&mut self, fraction: f64) {
        if fraction > self.best.0 {
            self.best.0 = fraction;
            self.moved = Instant::now();
        }
    }

    /// Why the child must be killed now, if it must.
    async fn check(&mut self) -> Result<(), JobError> {
        if self.started.elapsed() > self.wall_time {
            return Err(JobError::retry(
                FailureCode::ResourceLimit,
                format!(
                    "the transcode ran longer than {} s",
                    self.wall_time.as_secs()
                ),
            ));
        }
        if self.moved.elapsed() <= self.stall_timeout {
            return Ok(());
        }
        // No progress report for the whole timeout: the output folders
        // growing since they were last looked at still count.
        let folders = self.folders.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            folders.iter().map(|d| folder_bytes(d)).sum::<u64>()
        })
        .await
        .unwrap_or(0);
        if bytes > self.best.1 {
            self.best.1 = bytes;
            self.moved = Instant::now();
            return Ok(());
        }
        Err(JobError::retry(
            FailureCode::Stalled,
            format!(
                "the transcode made no progress for {} s",
                self.stall_timeout.as_secs()
            ),
        ))
    }
}

/// What a media error the child reported means for the job: the master's
/// fault, unless the limits caused it (`resource_limit`) or its cause is
/// transient ([`FailureCode::retryable`]; `retries_exhausted` at the end).
fn reported(code: FailureCode, message: String, stderr: &str) -> JobError {
    if out_of_resources(&message) || out_of_resources(stderr) {
        JobError::retry(FailureCode::ResourceLimit, message)
    } else if code.retryable() {
        JobError::retry(FailureCode::RetriesExhausted, message)
    } else {
        JobError::abort(code, message)
    }
}

/// Starts the child in a process group of its own, inside its sandbox
/// ([`crate::runtime::sandbox`]), and writes the request.
async fn spawn(
    isolation: &Isolation,
    video_id: VideoId,
    request: &ChildRequest,
) -> std::io::Result<Child> {
    let sandbox =
        Sandbox::prepare(&isolation.executable, request).map_err(std::io::Error::other)?;
    tracing::debug!(layers = ?sandbox.layers(), "transcode child sandbox");
    let mut command = Command::new(&isolation.executable);
    command
        .arg(CHILD_SUBCOMMAND)
        // Names the video in `ps` and in the child's errors.
        .args(["--video", &video_id.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    sandbox.confine(&mut command);
    let mut child = command.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let request = serde_json::to_vec(request).map_err(std::io::Error::other)?;
    stdin.write_all(&request).await?;
    // Closing standard input ends the request.
    drop(stdin);
    Ok(child)
}

/// SIGTERM to the child's process group, SIGKILL after a grace period;
/// waits for the child either way.
async fn kill(child: &mut Child, pid: Option<u32>) -> std::io::Result<ExitStatus> {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return child.wait().await;
    };
    signal_group(pid, libc::SIGTERM);
    if let Ok(status) = tokio::time::timeout(TERM_GRACE, child.wait()).await {
        // Anything else left in the group goes too.
        signal_group(pid, libc::SIGKILL);
        return status;
    }
    signal_group(pid, libc::SIGKILL);
    child.wait().await
}

fn signal_group(pgid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers; a negative pid names the
    // process group the child leads (it was started with process_group(0)).
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// A child that ended without a final report: retried, as
/// `resource_limit` when it hit a limit.
fn crashed(status: std::io::Result<ExitStatus>, stderr: &str) -> JobError {
    use std::os::unix::process::ExitStatusExt;
    let tail = stderr.trim();
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            return JobError::retry(
                FailureCode::RetriesExhausted,
                format!("waiting for the transcode child: {e}"),
            )
        }
    };
    let limit_hit = matches!(status.signal(), Some(libc::SIGXCPU)) || out_of_resources(tail);
    let code = if limit_hit {
        FailureCode::ResourceLimit
    } else {
        FailureCode::RetriesExhausted
    };
    JobError::retry(
        code,
        format!("the transcode child ended abnormally ({status}): {tail}"),
    )
}

/// Total size of the files directly in `dir` (0 when it is missing).
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::job_error::Failure;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;

    /// An isolation running the shell script `body` as the child.
    fn script(dir: &Path, body: &str, stall_timeout: Duration) -> Isolation {
        let executable = dir.join("child.sh");
        std::fs::write(&executable, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755)).unwrap();
        Isolation {
            executable,
            limits: Limits {
                memory_bytes: 1 << 30,
                cpu_seconds: 60,
            },
            wall_time: Duration::from_secs(60),
            stall_timeout,
        }
    }

    /// Whether `end` is a retry that fails the job with `code` at the end.
    fn retried_as(end: &Result<TranscodeOutput, JobError>, code: FailureCode) -> bool {
        matches!(end, Err(JobError::Retry(failure)) if failure.code == code)
    }

    fn request(dir: &Path) -> ChildRequest {
        ChildRequest::new(
            dir.join("master"),
            dir.join("out"),
            &crate::media::TranscodeOptions::default(),
            Limits {
                memory_bytes: 1 << 30,
                cpu_seconds: 60,
            },
        )
    }

    async fn run_script(
        body: &str,
        stall_timeout: Duration,
        cancel: &Cancel,
    ) -> Result<TranscodeOutput, JobError> {
        let dir = tempfile::tempdir().unwrap();
        let isolation = script(dir.path(), body, stall_timeout);
        let (tx, _rx) = mpsc::channel(64);
        run(
            &isolation,
            VideoId::default(),
            &request(dir.path()),
            cancel,
            tx,
        )
        .await
    }

    #[tokio::test]
    async fn a_media_error_rejects_the_master() {
        let end = run_script(
            r#"cat >/dev/null; echo '{"type":"failed","code":"invalid_media","message":"not media"}'"#,
            Duration::from_secs(60),
            &Cancel::default(),
        )
        .await;
        assert!(
            matches!(
                &end,
                Err(JobError::Abort(Failure {
                    code: FailureCode::InvalidMedia,
                    ..
                }))
            ),
            "{end:?}"
        );
    }

    #[tokio::test]
    async fn an_internal_error_is_retried_and_exhausts_retries() {
        let end = run_script(
            r#"cat >/dev/null; echo '{"type":"failed","code":"internal","message":"an encoder thread panicked"}'"#,
            Duration::from_secs(60),
            &Cancel::default(),
        )
        .await;
        assert!(retried_as(&end, FailureCode::RetriesExhausted), "{end:?}");
    }

    #[tokio::test]
    async fn a_media_error_from_exhausted_memory_is_a_resource_limit() {
        let end = run_script(
            r#"cat >/dev/null; echo 'x264 [error]: malloc of size 7332480 failed' >&2; echo '{"type":"failed","code":"decode_failed","message":"decoding failed: Resource temporarily unavailable"}'"#,
            Duration::from_secs(60),
            &Cancel::default(),
        )
        .await;
        assert!(retried_as(&end, FailureCode::ResourceLimit), "{end:?}");
    }

    #[tokio::test]
    async fn a_child_without_progress_is_killed_as_stalled() {
        let end = run_script("exec sleep 600", Duration::from_secs(1), &Cancel::default()).await;
        assert!(retried_as(&end, FailureCode::Stalled), "{end:?}");
    }

    #[tokio::test]
    async fn a_child_over_its_wall_time_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let isolation = Isolation {
            wall_time: Duration::from_secs(1),
            ..script(dir.path(), "exec sleep 600", Duration::from_secs(60))
        };
        let (tx, _rx) = mpsc::channel(64);
        let end = run(
            &isolation,
            VideoId::default(),
            &request(dir.path()),
            &Cancel::default(),
            tx,
        )
        .await;
        assert!(retried_as(&end, FailureCode::ResourceLimit), "{end:?}");
    }

    #[tokio::test]
    async fn a_cancelled_child_is_killed() {
        let cancel = Cancel::default();
        cancel.cancel();
        let end = run_script("exec sleep 600", Duration::from_secs(60), &cancel).await;
        assert_eq!(end.unwrap_err(), JobError::Stopped);
    }

    /// A child run by [`run`] finds no secret, no key, no network and no
    /// descriptor of the worker's, and cannot plant a symbolic link for the
    /// worker to publish: the probe script tries each and writes what it
    /// got into its output folder.
    #[tokio::test]
    async fn a_child_finds_no_secret_key_network_or_inherited_descriptor() {
        use std::os::fd::AsRawFd;
        let secrets = tempfile::tempdir().unwrap();
        let key = secrets.path().join("token.key");
        std::fs::write(&key, "s3cret-key\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Opened without close-on-exec, as C libraries do.
        let leaked = std::fs::File::open(&key).unwrap();
        // SAFETY: fcntl(F_SETFD) on a descriptor this test owns.
        assert_eq!(
            unsafe { libc::fcntl(leaked.as_raw_fd(), libc::F_SETFD, 0) },
            0
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let probe = format!(
            r#"cat >/dev/null
/usr/bin/env > {out}/env
cat {key} > {out}/key 2>/dev/null
bash -c 'cat <&{fd}' > {out}/leaked 2>/dev/null
bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo connected > {out}/network
ln -s {key} {out}/poster.jpg 2>/dev/null && echo linked > {out}/symlink
echo '{{"type":"failed","code":"invalid_media","message":"probed"}}'"#,
            out = out.display(),
            key = key.display(),
            fd = leaked.as_raw_fd(),
        );
        let isolation = script(dir.path(), &probe, Duration::from_secs(60));
        let (tx, _rx) = mpsc::channel(64);
        let end = run(
            &isolation,
            VideoId::default(),
            &request(dir.path()),
            &Cancel::default(),
            tx,
        )
        .await;
        drop(leaked);
        assert!(
            matches!(&end, Err(JobError::Abort(Failure { message, .. })) if message == "probed"),
            "{end:?}"
        );

        let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
        let mut variables: Vec<String> = read("env")
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.to_owned()))
            // What the shell itself sets.
            .filter(|name| !["PWD", "OLDPWD", "SHLVL", "_"].contains(&name.as_str()))
            .collect();
        variables.sort();
        assert_eq!(
            variables,
            ["MALLOC_ARENA_MAX", "SVT_LOG"],
            "{}",
            read("env")
        );
        assert_eq!(read("key"), "", "the child read the key file");
        assert_eq!(read("leaked"), "", "the child read an inherited descriptor");
        assert_eq!(read("network"), "", "the child connected over TCP");
        assert!(listener.accept().is_err(), "the child connected over TCP");
        // The worker publishes what the child leaves in its folders.
        assert_eq!(read("symlink"), "", "the child planted a symbolic link");
    }

    #[test]
    fn signals_and_allocation_failures_are_classified() {
        let killed = ExitStatus::from_raw(libc::SIGKILL);
        let xcpu = ExitStatus::from_raw(libc::SIGXCPU);
        let abort = ExitStatus::from_raw(libc::SIGABRT);
        assert!(retried_as(
            &Err(crashed(Ok(killed), "")),
            FailureCode::RetriesExhausted
        ));
        assert!(retried_as(
            &Err(crashed(Ok(xcpu), "")),
            FailureCode::ResourceLimit
        ));
        assert!(retried_as(
            &Err(crashed(
                Ok(abort),
                "memory allocation of 1048576 bytes failed"
            )),
            FailureCode::ResourceLimit
        ));
    }
}
