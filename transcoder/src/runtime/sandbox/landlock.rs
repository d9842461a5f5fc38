//! Landlock (Linux 5.13 and later): the child's view of the file system
//! shrinks to the paths of its job, and from ABI 4 it cannot bind or
//! connect TCP sockets, from ABI 6 not signal or reach abstract sockets of
//! processes outside its sandbox. Raw system calls, as libc has no
//! wrappers; the kernel's `include/uapi/linux/landlock.h` defines the ABI.

use super::SandboxError;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `struct landlock_ruleset_attr`.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr`.
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

const CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;
const RULE_PATH_BENEATH: libc::c_int = 1;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REMOVE_DIR: u64 = 1 << 4;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_DIR: u64 = 1 << 7;
const FS_MAKE_REG: u64 = 1 << 8;
/// Every right of ABI 1 (execute … make symlink).
const FS_ABI_1: u64 = (1 << 13) - 1;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
/// The rights that apply to a file rather than a folder.
const FS_FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;

const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// What the child may do under a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and run: the executable and the system libraries.
    ReadExecute,
    /// Read only: the master.
    Read,
    /// Read, create, write, truncate and remove files and folders: the
    /// output folders.
    ReadWrite,
}

impl Access {
    fn rights(self) -> u64 {
        match self {
            Self::ReadExecute => FS_EXECUTE | FS_READ_FILE | FS_READ_DIR,
            Self::Read => FS_READ_FILE | FS_READ_DIR,
            Self::ReadWrite => {
                FS_READ_FILE
                    | FS_READ_DIR
                    | FS_WRITE_FILE
                    | FS_TRUNCATE
                    | FS_MAKE_REG
                    | FS_MAKE_DIR
                    | FS_REMOVE_FILE
                    | FS_REMOVE_DIR
            }
        }
    }
}

/// The Landlock ABI version the kernel offers, or `None` without Landlock
/// (not built in, not enabled in `lsm=`, or a kernel before 5.13).
pub fn abi() -> Option<u32> {
    // SAFETY: with a null attribute and the VERSION flag the call only
    // returns the ABI version (or an error).
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(version).ok().filter(|&v| v > 0)
}

/// A ruleset for ABI `abi` that handles every right the ABI knows and
/// grants `grants` (paths that do not exist are skipped).
pub fn ruleset(abi: u32, grants: &[(&Path, Access)]) -> Result<OwnedFd, SandboxError> {
    let failed = |what: &str| {
        let source = io::Error::last_os_error();
        let what = what.to_owned();
        SandboxError::Landlock { what, source }
    };
    let handled_fs = FS_ABI_1
        | if abi >= 2 { FS_REFER } else { 0 }
        | if abi >= 3 { FS_TRUNCATE } else { 0 }
        | if abi >= 5 { FS_IOCTL_DEV } else { 0 };
    let attr = RulesetAttr {
        handled_access_fs: handled_fs,
        handled_access_net: if abi >= 4 {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    // Older kernels know a shorter attribute; they accept this one as long
    // as the fields they do not know are zero, as they are here.
    let size = std::mem::size_of::<RulesetAttr>();
    // SAFETY: `attr` is a valid landlock_ruleset_attr of `size` bytes.
    let fd = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr, size, 0) };
    let fd = libc::c_int::try_from(fd)
        .ok()
        .filter(|&fd| fd >= 0)
        .ok_or_else(|| failed("creating the ruleset"))?;
    // SAFETY: the kernel just returned this descriptor, owned by nobody else.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd) };
    for (path, access) in grants {
        let Some(target) = open_path(path) else {
            continue;
        };
        let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
        let rights = access.rights() & handled_fs & if is_dir { u64::MAX } else { FS_FILE_RIGHTS };
        let rule = PathBeneathAttr {
            allowed_access: rights,
            parent_fd: target.as_raw_fd(),
        };
        // SAFETY: `rule` is a valid landlock_path_beneath_attr; both
        // descriptors are open.
        let added = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule,
                0,
            )
        };
        if added != 0 {
            return Err(failed(&format!("granting {}", path.display())));
        }
    }
    Ok(ruleset)
}

/// `path` opened for naming only (`O_PATH`), or `None` when it is missing.
fn open_path(path: &Path) -> Option<OwnedFd> {
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `name` is a NUL-terminated path.
    let fd = unsafe { libc::open(name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    // SAFETY: a descriptor open just now, owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Enforces `ruleset` on the calling process (and everything it execs);
/// async-signal-safe, for the child between fork and exec. The caller has
/// set no-new-privileges.
pub fn restrict_self(ruleset: &OwnedFd) -> io::Result<()> {
    // SAFETY: landlock_restrict_self takes a descriptor and flags.
    let restricted =
        unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0) };
    if restricted == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
