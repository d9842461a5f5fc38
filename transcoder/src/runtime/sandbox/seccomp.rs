//! The child's seccomp filter: a classic BPF program, installed last
//! before exec, that refuses the system calls a media decoder never needs
//! and an attacker who took it over would want first:
//!
//! - `socket` for any family but `AF_UNIX` (`EACCES`): no network;
//! - `io_uring_setup` (`ENOSYS`): io_uring opens sockets and files past
//!   the filter;
//! - links, symbolic links and device nodes (`EPERM`): the worker reads
//!   what the child leaves in its folders, and must find only the child's
//!   own regular files there;
//! - `ptrace`, `process_vm_readv`, `process_vm_writev` (`EPERM`): no
//!   reading the worker's memory when both run as one user.
//!
//! A system call of another ABI (32-bit or x32 on x86-64) kills the child.

use std::io;

/// `AUDIT_ARCH_*` of the architecture this is built for.
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xC000_00B7;

/// Offsets in `struct seccomp_data`: the call number, the architecture
/// and the low half of the first argument (little-endian).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;

/// System call numbers of x32 on x86-64 have this bit set.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Refused with `EPERM`.
const REFUSED: &[libc::c_long] = &[
    libc::SYS_linkat,
    libc::SYS_symlinkat,
    libc::SYS_mknodat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_link,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_symlink,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_mknod,
];

/// Whether the kernel has seccomp (`PR_GET_SECCOMP` fails without it).
pub fn available() -> bool {
    // SAFETY: prctl(PR_GET_SECCOMP) takes no pointer.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

/// The filter program.
pub fn program() -> Vec<libc::sock_filter> {
    let allow = ret(libc::SECCOMP_RET_ALLOW);
    let mut program = vec![
        load(ARCH),
        jump_if_equal(NATIVE_ARCH, 1, 0),
        ret(libc::SECCOMP_RET_KILL_PROCESS),
        load(NR),
    ];
    #[cfg(target_arch = "x86_64")]
    program.extend([
        jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1),
        ret(libc::SECCOMP_RET_KILL_PROCESS),
    ]);
    program.extend([
        jump_if_equal(number(libc::SYS_socket), 0, 4),
        load(ARG0_LOW),
        jump_if_equal(libc::AF_UNIX as u32, 0, 1),
        allow,
        ret(errno(libc::EACCES)),
        jump_if_equal(number(libc::SYS_io_uring_setup), 0, 1),
        ret(errno(libc::ENOSYS)),
    ]);
    for &call in REFUSED {
        program.extend([jump_if_equal(number(call), 0, 1), ret(errno(libc::EPERM))]);
    }
    program.push(allow);
    program
}

/// Installs `program` on the calling thread (and everything it execs);
/// async-signal-safe, for the child between fork and exec. The caller has
/// set no-new-privileges.
pub fn install(program: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `program`, which outlives the call; the
    // kernel copies it.
    let installed = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if installed == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn number(call: libc::c_long) -> u32 {
    u32::try_from(call).expect("system call numbers are small")
}

fn errno(code: libc::c_int) -> u32 {
    libc::SECCOMP_RET_ERRNO | (code as u32 & libc::SECCOMP_RET_DATA)
}

fn load(offset: u32) -> libc::sock_filter {
    statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset)
}

fn ret(action: u32) -> libc::sock_filter {
    statement(libc::BPF_RET | libc::BPF_K, action)
}

fn jump_if_equal(value: u32, if_true: u8, if_false: u8) -> libc::sock_filter {
    jump(libc::BPF_JEQ, value, if_true, if_false)
}

fn jump(condition: u32, value: u32, if_true: u8, if_false: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | condition | libc::BPF_K) as u16,
        jt: if_true,
        jf: if_false,
        k: value,
    }
}

fn statement(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}
