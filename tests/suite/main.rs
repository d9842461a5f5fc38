//! The root integration tests, one binary: each module is what was one
//! test binary (`tests/<name>.rs`, and `hostile`, the attacks of
//! `docs/security.md`), sharing [`common`]. One binary links ffmpeg,
//! aws-sdk and sea-orm once instead of once per file.
//!
//! `tests/metrics.rs` stays a binary of its own: the metrics registry is
//! process-wide, and it asserts exact counts and a fixed set of series of
//! an in-process `goflix serve`, which the other modules' in-process
//! servers would add to. Nothing here may depend on being alone in its
//! process: no environment changes (children get theirs on their
//! `Command`), memory measured only in separate processes, ports from
//! `goflix_testkit::free_port` or port 0.

#[path = "../common/mod.rs"]
mod common;

mod access_matrix;
mod bad_inputs;
mod codecs;
mod console_pages;
mod crash_recovery;
mod deploy_manifests;
mod distributed_faults;
mod end_to_end;
mod graceful_shutdown;
mod hostile;
mod identity;
mod job_control;
mod job_isolation;
mod media_breadth;
mod notifications;
mod openapi_schemathesis;
mod origin_cache;
mod private_playback;
mod progressive;
mod runners;
mod tracing;
mod tus;
mod uploads;
mod url_import;
mod watch_pages;
