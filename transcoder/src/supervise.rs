//! The worker's side of a job's child process ([`crate::child`]): start it
//! in its own process group, hand it the request, follow its reports, and
//! kill the whole group when the job is cancelled, when it overruns the wall
//! time, or when it stops making progress; the child is always reaped.
//! The child starts inside its sandbox ([`crate::sandbox`]).

use crate::child::{ChildRequest, Limits, Report};
use crate::pipeline::Cancel;
use crate::sandbox::Sandbox;
use crate::TranscodeOutput;
use goflix_shared::config::Config;
use goflix_shared::domain::VideoId;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

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

/// How a child ended.
#[derive(Debug)]
pub enum ChildEnd {
    /// The transcode succeeded.
    Done(TranscodeOutput),
    /// The master is unusable: a media error's code and message.
    Rejected {
        /// Stable code, e.g. `invalid_media`.
        code: String,
        /// Readable explanation.
        message: String,
    },
    /// The child died, overran or stalled: worth retrying. `code` is what
    /// the job fails with once attempts run out.
    Crashed {
        /// `resource_limit`, `stalled` or `retries_exhausted`.
        code: &'static str,
        /// What happened.
        reason: String,
    },
    /// `cancel` fired and the child was killed.
    Cancelled,
}

/// Runs `request` for the video `video_id` in a child process. `progress`
/// receives the share done; the output folders growing also counts as
/// progress.
pub async fn run(
    isolation: &Isolation,
    video_id: VideoId,
    request: &ChildRequest,
    cancel: &Cancel,
    progress: mpsc::Sender<f64>,
) -> ChildEnd {
    let mut child = match spawn(isolation, video_id, request).await {
        Ok(child) => child,
        Err(e) => {
            return ChildEnd::Crashed {
                code: "retries_exhausted",
                reason: format!("could not start {}: {e}", isolation.executable.display()),
            }
        }
    };
    let pid = child.id();
    let stderr = child.stderr.take().map(|mut pipe| {
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
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let watch: Vec<PathBuf> = std::iter::once(request.out_dir.clone())
        .chain(request.live_dir.clone())
        .collect();
    let started = Instant::now();
    let mut moved = Instant::now();
    let mut best = (-1.0_f64, 0_u64);
    let mut last = None;
    let mut check = tokio::time::interval(CHECK_EVERY);
    let killed = loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => match serde_json::from_str::<Report>(&line) {
                    Ok(Report::Started { pid }) => tracing::info!(child_pid = pid, "transcode child started"),
                    Ok(Report::Progress { fraction }) => {
                        if fraction > best.0 {
                            best.0 = fraction;
                            moved = Instant::now();
                        }
                        let _ = progress.try_send(fraction);
                    }
                    Ok(report) => last = Some(report),
                    Err(e) => tracing::warn!(error = %e, %line, "unreadable line from the transcode child"),
                },
                Ok(None) | Err(_) => break None,
            },
            _ = check.tick() => {
                if cancel.is_cancelled() {
                    break Some(ChildEnd::Cancelled);
                }
                if started.elapsed() > isolation.wall_time {
                    break Some(ChildEnd::Crashed {
                        code: "resource_limit",
                        reason: format!("the transcode ran longer than {} s", isolation.wall_time.as_secs()),
                    });
                }
                if moved.elapsed() <= isolation.stall_timeout {
                    continue;
                }
                // No progress report for the whole timeout: the output
                // folders growing since they were last looked at still count.
                let bytes = tokio::task::spawn_blocking({
                    let watch = watch.clone();
                    move || watch.iter().map(|d| folder_bytes(d)).sum::<u64>()
                }).await.unwrap_or(0);
                if bytes > best.1 {
                    best.1 = bytes;
                    moved = Instant::now();
                } else {
                    break Some(ChildEnd::Crashed {
                        code: "stalled",
                        reason: format!("the transcode made no progress for {} s", isolation.stall_timeout.as_secs()),
                    });
                }
            }
        }
    };
    let status = match &killed {
        Some(_) => kill(&mut child, pid).await,
        None => child.wait().await,
    };
    let stderr = match stderr {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    if let Some(end) = killed {
        tracing::warn!(?end, "transcode child killed");
        return end;
    }
    match (status, last) {
        (Ok(status), Some(Report::Done { output })) if status.success() => ChildEnd::Done(output),
        (Ok(status), Some(Report::Failed { code, message })) if status.success() => {
            // A media error caused by the limits is not the master's fault.
            if out_of_resources(&message) || out_of_resources(&stderr) {
                ChildEnd::Crashed {
                    code: "resource_limit",
                    reason: message,
                }
            } else if code == "internal" {
                ChildEnd::Crashed {
                    code: "retries_exhausted",
                    reason: message,
                }
            } else {
                ChildEnd::Rejected { code, message }
            }
        }
        (status, _) => crashed(status, &stderr),
    }
}

/// Starts the child in a process group of its own, inside its sandbox
/// ([`crate::sandbox`]), and writes the request.
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

/// A child that ended without a final report.
fn crashed(status: std::io::Result<ExitStatus>, stderr: &str) -> ChildEnd {
    use std::os::unix::process::ExitStatusExt;
    let tail = stderr.trim();
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            return ChildEnd::Crashed {
                code: "retries_exhausted",
                reason: format!("waiting for the transcode child: {e}"),
            }
        }
    };
    let limit_hit = matches!(status.signal(), Some(libc::SIGXCPU)) || out_of_resources(tail);
    ChildEnd::Crashed {
        code: if limit_hit {
            "resource_limit"
        } else {
            "retries_exhausted"
        },
        reason: format!("the transcode child ended abnormally ({status}): {tail}"),
    }
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

    fn request(dir: &Path) -> ChildRequest {
        ChildRequest::new(
            dir.join("master"),
            dir.join("out"),
            &crate::TranscodeOptions::default(),
            Limits {
                memory_bytes: 1 << 30,
                cpu_seconds: 60,
            },
        )
    }

    async fn run_script(body: &str, stall_timeout: Duration, cancel: &Cancel) -> ChildEnd {
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
            matches!(&end, ChildEnd::Rejected { code, .. } if code == "invalid_media"),
            "{end:?}"
        );
    }

    #[tokio::test]
    async fn a_media_error_from_exhausted_memory_is_a_resource_limit() {
        let end = run_script(
            r#"cat >/dev/null; echo 'x264 [error]: malloc of size 7332480 failed' >&2; echo '{"type":"failed","code":"decode_failed","message":"decoding failed: Resource temporarily unavailable"}'"#,
            Duration::from_secs(60),
            &Cancel::default(),
        )
        .await;
        assert!(
            matches!(
                &end,
                ChildEnd::Crashed {
                    code: "resource_limit",
                    ..
                }
            ),
            "{end:?}"
        );
    }

    #[tokio::test]
    async fn a_child_without_progress_is_killed_as_stalled() {
        let end = run_script("exec sleep 600", Duration::from_secs(1), &Cancel::default()).await;
        assert!(
            matches!(
                &end,
                ChildEnd::Crashed {
                    code: "stalled",
                    ..
                }
            ),
            "{end:?}"
        );
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
        assert!(
            matches!(
                &end,
                ChildEnd::Crashed {
                    code: "resource_limit",
                    ..
                }
            ),
            "{end:?}"
        );
    }

    #[tokio::test]
    async fn a_cancelled_child_is_killed() {
        let cancel = Cancel::default();
        cancel.cancel();
        let end = run_script("exec sleep 600", Duration::from_secs(60), &cancel).await;
        assert!(matches!(end, ChildEnd::Cancelled), "{end:?}");
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
            matches!(&end, ChildEnd::Rejected { message, .. } if message == "probed"),
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
        assert_eq!(variables, ["MALLOC_ARENA_MAX"], "{}", read("env"));
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
        assert!(matches!(
            crashed(Ok(killed), ""),
            ChildEnd::Crashed {
                code: "retries_exhausted",
                ..
            }
        ));
        assert!(matches!(
            crashed(Ok(xcpu), ""),
            ChildEnd::Crashed {
                code: "resource_limit",
                ..
            }
        ));
        assert!(matches!(
            crashed(Ok(abort), "memory allocation of 1048576 bytes failed"),
            ChildEnd::Crashed {
                code: "resource_limit",
                ..
            }
        ));
    }
}
