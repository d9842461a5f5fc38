//! The transcode child's sandbox. The worker prepares it for one child
//! ([`Sandbox::prepare`]) and the child enters it between fork and exec
//! ([`Sandbox::confine`]), so not one line of the child runs unconfined:
//!
//! - **Environment**: cleared; the child gets [`CHILD_ENV`] and nothing of
//!   the worker's (database URL, SMTP and SMS credentials, AWS keys, admin
//!   password). Everything it needs comes in its request.
//! - **File descriptors**: standard input, output and error only; every
//!   other descriptor the worker holds (C libraries open some without
//!   `O_CLOEXEC`) is closed at exec.
//! - **User**: a worker running as root (with `CAP_SETUID`, `CAP_SETGID`
//!   and `CAP_CHOWN`) starts the child as [`UNPRIVILEGED_ID`], and hands it
//!   the job's scratch folder and output folders, nothing else.
//! - **No new privileges** (`PR_SET_NO_NEW_PRIVS`): no set-uid binary or
//!   file capability gives any back.
//! - **Landlock** where the kernel has it (`landlock`): the file system
//!   shrinks to the executable and system libraries, `/dev/null`, the
//!   master (read) and the output folders; TCP refused, no signals to
//!   processes outside.
//! - **seccomp** (`seccomp`): no sockets but `AF_UNIX`, no io_uring, no
//!   links or device nodes, no ptrace.
//!
//! [`Layers`] says which of these hold on this machine; see
//! `docs/design/job-isolation.md` for what holds where.

mod landlock;
mod seccomp;

use crate::runtime::child::ChildRequest;
use landlock::Access;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// The uid and gid a root worker's children run as (`nobody` and
/// `nogroup` on Debian): a user that owns no file of the worker's.
pub const UNPRIVILEGED_ID: u32 = 65534;

/// The child's whole environment. Few malloc arenas: each reserves 64 MiB
/// of address space, which counts against the memory limit without being
/// used. SVT-AV1 logs its warnings and errors only (by default it prints
/// its whole configuration for every encoder it opens).
pub const CHILD_ENV: &[(&str, &str)] = &[("MALLOC_ARENA_MAX", "4"), ("SVT_LOG", "2")];

/// What the executable reads to start: the dynamic loader, its cache and
/// the shared libraries (missing ones are skipped).
const SYSTEM_PATHS: &[&str] = &["/usr", "/lib", "/lib64", "/etc/ld.so.cache"];

/// Capabilities a root worker needs to hand a job to another user:
/// `CAP_CHOWN` (0), `CAP_SETGID` (6), `CAP_SETUID` (7).
const SWITCH_USER_CAPABILITIES: u64 = 1 << 0 | 1 << 6 | 1 << 7;

/// Why a sandbox could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A job folder could not be created or given to the child's user.
    #[error("handing {path} to the transcode child: {source}")]
    HandOver {
        /// The folder.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The child's user could not reach its scratch folder: a folder on
    /// the way (`TMPDIR` and its parents) is closed to other users.
    #[error("the transcode child's user {uid} cannot reach {path}: set TMPDIR to a folder others may traverse")]
    Unreachable {
        /// The closed folder.
        path: PathBuf,
        /// The child's uid.
        uid: u32,
    },
    /// The kernel has Landlock but refused the ruleset.
    #[error("building the Landlock ruleset ({what}): {source}")]
    Landlock {
        /// The step or path that failed.
        what: String,
        /// What failed.
        source: io::Error,
    },
}

/// Which layers confine a child on this machine (besides the environment,
/// the descriptors and no-new-privileges, which always hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    /// The uid (and gid) the child runs as, when not the worker's.
    pub user: Option<u32>,
    /// The Landlock ABI version enforced, if the kernel has Landlock.
    pub landlock_abi: Option<u32>,
    /// Whether the seccomp filter is installed.
    pub seccomp: bool,
}

/// One child's sandbox, ready to enter.
#[derive(Debug)]
pub struct Sandbox {
    layers: Layers,
    ruleset: Option<OwnedFd>,
    filter: Option<Vec<libc::sock_filter>>,
}

impl Sandbox {
    /// Prepares the sandbox of a child running `executable` on `request`:
    /// creates the live folder, hands the job's folders (the master's
    /// scratch folder, the output and live folders) to the child's user
    /// when that is not the worker's, and builds the Landlock ruleset and
    /// the seccomp filter where the kernel has them.
    pub fn prepare(executable: &Path, request: &ChildRequest) -> Result<Self, SandboxError> {
        let writable: Vec<&Path> = std::iter::once(request.out_dir.as_path())
            .chain(request.live_dir.as_deref())
            .collect();
        for dir in &writable {
            std::fs::create_dir_all(dir).map_err(|source| SandboxError::HandOver {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let user = can_switch_user().then_some(UNPRIVILEGED_ID);
        if let Some(id) = user {
            let scratch = request.input.parent();
            if let Some(closed) = scratch.and_then(Path::parent).and_then(closed_ancestor) {
                return Err(SandboxError::Unreachable {
                    path: closed,
                    uid: id,
                });
            }
            for dir in scratch.into_iter().chain(writable.iter().copied()) {
                std::os::unix::fs::chown(dir, Some(id), Some(id)).map_err(|source| {
                    SandboxError::HandOver {
                        path: dir.to_path_buf(),
                        source,
                    }
                })?;
            }
        }
        let ruleset = match landlock::abi() {
            Some(abi) => {
                let mut grants: Vec<(&Path, Access)> = SYSTEM_PATHS
                    .iter()
                    .map(|path| (Path::new(path), Access::ReadExecute))
                    .collect();
                grants.push((executable, Access::ReadExecute));
                grants.push((Path::new("/dev/null"), Access::ReadWrite));
                grants.push((&request.input, Access::Read));
                grants.extend(writable.iter().map(|dir| (*dir, Access::ReadWrite)));
                Some((abi, landlock::ruleset(abi, &grants)?))
            }
            None => None,
        };
        let filter = seccomp::available().then(seccomp::program);
        Ok(Self {
            layers: Layers {
                user,
                landlock_abi: ruleset.as_ref().map(|(abi, _)| *abi),
                seccomp: filter.is_some(),
            },
            ruleset: ruleset.map(|(_, fd)| fd),
            filter,
        })
    }

    /// The layers this sandbox applies.
    pub fn layers(&self) -> Layers {
        self.layers
    }

    /// Makes `command` start its process inside the sandbox.
    pub fn confine(self, command: &mut Command) {
        command.env_clear().envs(CHILD_ENV.iter().copied());
        if let Some(id) = self.layers.user {
            // std also drops the supplementary groups when root sets a uid.
            command.uid(id).gid(id);
        }
        let Self {
            ruleset, filter, ..
        } = self;
        // SAFETY: `enter` makes only async-signal-safe system calls on data
        // prepared before the fork, as a pre_exec hook must.
        unsafe {
            command.pre_exec(move || enter(ruleset.as_ref(), filter.as_deref()));
        }
    }
}

/// The first of `dir` and its ancestors that other users may not
/// traverse (no `o+x`), if any.
fn closed_ancestor(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors()
        .find(|folder| std::fs::metadata(folder).is_ok_and(|m| m.permissions().mode() & 0o001 == 0))
        .map(Path::to_path_buf)
}

/// Runs in the forked child, after the user switch and before exec.
fn enter(ruleset: Option<&OwnedFd>, filter: Option<&[libc::sock_filter]>) -> io::Result<()> {
    close_inherited_descriptors()?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if let Some(ruleset) = ruleset {
        landlock::restrict_self(ruleset)?;
    }
    if let Some(filter) = filter {
        seccomp::install(filter)?;
    }
    Ok(())
}

/// Marks every descriptor above standard error close-on-exec. Closing them
/// outright would also close the pipe through which std reports a failed
/// exec.
fn close_inherited_descriptors() -> io::Result<()> {
    // SAFETY: close_range takes plain integers and only changes flags.
    let marked = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if marked == 0 {
        return Ok(());
    }
    // Kernels before 5.11: one descriptor at a time, up to the limit.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct passed by reference.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let highest = libc::c_int::try_from(limit.rlim_cur).unwrap_or(libc::c_int::MAX);
    for fd in 3..highest {
        // SAFETY: fcntl on a descriptor that may not exist fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Whether the worker runs as root with the capabilities to hand a job to
/// another user (a root container may have dropped them).
fn can_switch_user() -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    effective_capabilities()
        .is_some_and(|caps| caps & SWITCH_USER_CAPABILITIES == SWITCH_USER_CAPABILITIES)
}

/// The `CapEff` mask of this process.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))?;
    u64::from_str_radix(mask.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::TranscodeOptions;
    use std::os::unix::fs::PermissionsExt;

    /// A scratch folder under a folder closed to other users would make
    /// every master unreadable to the child's user: it is found first.
    #[test]
    fn a_folder_closed_to_other_users_on_the_way_is_found() {
        let closed = tempfile::tempdir().unwrap();
        std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let inner = closed.path().join("tmp");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(closed_ancestor(&inner), Some(closed.path().to_path_buf()));
        assert_eq!(closed_ancestor(&std::env::temp_dir()), None);
    }

    /// The worker of a non-root deployment cannot switch users: on a kernel
    /// with Landlock and seccomp, the child still cannot read a key file
    /// its user owns, nor open a TCP socket, while its job's folders work.
    #[tokio::test]
    async fn without_a_user_switch_the_key_and_the_network_stay_out_of_reach() {
        let secrets = tempfile::tempdir().unwrap();
        let key = secrets.path().join("token.key");
        std::fs::write(&key, "s3cret-key\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let master = dir.path().join("master");
        std::fs::write(&master, "master bytes").unwrap();
        let request = ChildRequest::new(
            master.clone(),
            dir.path().join("out"),
            &TranscodeOptions::default(),
            crate::runtime::child::Limits {
                memory_bytes: 1 << 30,
                cpu_seconds: 60,
            },
        );
        let shell = Path::new("/usr/bin/bash");
        let mut sandbox = Sandbox::prepare(shell, &request).unwrap();
        sandbox.layers.user = None;
        // The kernels Goflix is tested on have both (Linux 5.13+ with
        // `landlock` in `lsm=`); without them this configuration is open.
        let layers = sandbox.layers();
        assert!(
            layers.landlock_abi.is_some() && layers.seccomp,
            "no Landlock or seccomp here: {layers:?}"
        );
        let out = request.out_dir.display();
        let mut command = Command::new(shell);
        command.arg("-c").arg(format!(
            "cat {master} > {out}/master
             cat {key} > {out}/key
             exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected > {out}/network",
            master = master.display(),
            key = key.display(),
        ));
        sandbox.confine(&mut command);
        command.status().await.unwrap();
        let read =
            |name: &str| std::fs::read_to_string(request.out_dir.join(name)).unwrap_or_default();

        assert_eq!(
            read("master"),
            "master bytes",
            "the job's own files are out of reach"
        );
        assert_eq!(read("key"), "", "the child read the key file");
        assert_eq!(read("network"), "", "the child connected over TCP");
        assert!(listener.accept().is_err(), "the child connected over TCP");
    }
}
