//! The media half of a job, run in a child process of the worker
//! (`goflix transcode-child`) so a crash, hang or runaway allocation in
//! FFmpeg takes down the child and never the worker.
//!
//! The protocol is JSON: one [`ChildRequest`] on standard input, then
//! [`Report`] lines on standard output — progress as it goes, and exactly
//! one `done` or `failed` at the end. Before reading any media the child
//! caps its own address space and CPU time and disables core dumps
//! ([`Limits::apply`]); the worker enforces the wall time and stall timeout
//! from outside ([`crate::runtime::supervise`]).

use crate::media::ladder::RungSpec;
use crate::media::{transcode, TranscodeOptions, TranscodeOutput};
use goflix_shared::domain::{FailureCode, LadderMode, VideoCodec};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Least spacing of progress reports (and so of `video.progress` events).
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// What one child transcodes, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildRequest {
    /// The master, a local file.
    pub input: PathBuf,
    /// The output folder.
    pub out_dir: PathBuf,
    /// The live copy's folder, if the job publishes progressively.
    pub live_dir: Option<PathBuf>,
    /// Encoder settings (see [`TranscodeOptions`]).
    pub segment_seconds: u32,
    /// Default libx264 preset.
    pub x264_preset: String,
    /// The rungs, highest first.
    pub ladder: Vec<RungSpec>,
    /// x264 threads per rung (0: shared by pixel count).
    pub x264_threads: usize,
    /// Seconds between storyboard thumbnails.
    pub storyboard_interval_s: f64,
    /// Longest accepted source.
    pub max_duration_s: f64,
    /// Put before every URI in the multivariant playlist and manifest.
    pub uri_prefix: String,
    /// Write `download.mp4` from the tallest rung at most this high.
    #[serde(default)]
    pub download_max_height: Option<u32>,
    /// How the rungs' bitrates are chosen.
    #[serde(default)]
    pub ladder_mode: LadderMode,
    /// The codec of the ladder.
    #[serde(default)]
    pub codec: VideoCodec,
    /// Encode the video ladder only (a ladder joining a published version).
    #[serde(default)]
    pub video_only: bool,
    /// Resource limits the child applies to itself first.
    pub limits: Limits,
    /// The worker's process id: the child's parent.
    pub worker_pid: u32,
}

impl ChildRequest {
    /// The request for transcoding `input` into `out_dir` with `options`.
    pub fn new(
        input: PathBuf,
        out_dir: PathBuf,
        options: &TranscodeOptions,
        limits: Limits,
    ) -> Self {
        Self {
            input,
            out_dir,
            live_dir: options.live_dir.clone(),
            segment_seconds: options.segment_seconds,
            x264_preset: options.x264_preset.clone(),
            ladder: options.ladder.clone(),
            x264_threads: options.x264_threads,
            storyboard_interval_s: options.storyboard_interval_s,
            max_duration_s: options.max_duration_s,
            uri_prefix: options.uri_prefix.clone(),
            download_max_height: options.download_max_height,
            ladder_mode: options.ladder_mode,
            codec: options.codec,
            video_only: options.video_only,
            limits,
            worker_pid: std::process::id(),
        }
    }

    fn options(&self) -> TranscodeOptions {
        TranscodeOptions {
            segment_seconds: self.segment_seconds,
            x264_preset: self.x264_preset.clone(),
            ladder: self.ladder.clone(),
            x264_threads: self.x264_threads,
            storyboard_interval_s: self.storyboard_interval_s,
            max_duration_s: self.max_duration_s,
            uri_prefix: self.uri_prefix.clone(),
            live_dir: self.live_dir.clone(),
            download_max_height: self.download_max_height,
            ladder_mode: self.ladder_mode,
            codec: self.codec,
            video_only: self.video_only,
            ..TranscodeOptions::default()
        }
    }
}

/// Resource limits of one child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest address space in bytes (`RLIMIT_AS`).
    pub memory_bytes: u64,
    /// CPU seconds over all threads (`RLIMIT_CPU`): SIGXCPU at this many,
    /// SIGKILL a little later.
    pub cpu_seconds: u64,
}

/// Extra CPU seconds between SIGXCPU and SIGKILL.
const CPU_GRACE_S: u64 = 5;

impl Limits {
    /// Applies the limits to the calling process, and forbids core dumps.
    pub fn apply(&self) -> std::io::Result<()> {
        set(libc::RLIMIT_CORE, 0, 0)?;
        set(libc::RLIMIT_AS, self.memory_bytes, self.memory_bytes)?;
        set(
            libc::RLIMIT_CPU,
            self.cpu_seconds,
            self.cpu_seconds.saturating_add(CPU_GRACE_S),
        )
    }
}

fn set(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct passed by reference.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One line the child writes on standard output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Report {
    /// The child started working, with its process id.
    Started {
        /// The child's pid (also its process group).
        pid: u32,
    },
    /// Share of the source encoded so far, 0.0..=1.0.
    Progress {
        /// The share.
        fraction: f64,
    },
    /// The transcode succeeded.
    Done {
        /// What it produced.
        output: TranscodeOutput,
    },
    /// The transcode failed with a [`MediaError`](crate::media::error::MediaError).
    Failed {
        /// The error's stable code.
        code: FailureCode,
        /// The error's message.
        message: String,
    },
}

/// The child's whole life: read the request from `input`, limit itself,
/// transcode, and report on `output`. An error means the protocol itself
/// broke (unreadable request, closed output); media errors are reports.
pub fn run(input: impl BufRead, output: impl Write) -> std::io::Result<()> {
    let request: ChildRequest = serde_json::from_reader(input)
        .map_err(|e| std::io::Error::other(format!("reading the request: {e}")))?;
    die_with_parent(request.worker_pid)?;
    request.limits.apply()?;
    work(&request, output)
}

/// Has the kernel kill this process when the worker that started it dies
/// (a SIGKILLed worker cannot kill its children); exits at once when the
/// worker (`worker_pid`) is already gone.
fn die_with_parent(worker_pid: u32) -> std::io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers; getppid cannot fail.
    let (set, parent) = unsafe {
        (
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong),
            libc::getppid(),
        )
    };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if u32::try_from(parent).ok() != Some(worker_pid) {
        return Err(std::io::Error::other("the worker is gone"));
    }
    Ok(())
}

/// Transcodes as `request` says, reporting on `output`, within whatever
/// limits the process already has.
fn work(request: &ChildRequest, mut output: impl Write) -> std::io::Result<()> {
    send(
        &mut output,
        &Report::Started {
            pid: std::process::id(),
        },
    )?;
    let mut last = Instant::now() - REPORT_EVERY;
    let mut broken = None;
    let options = request.options();
    let cancel = options.cancel.clone();
    let result = transcode(
        &request.input,
        &request.out_dir,
        &options,
        &mut |fraction| {
            if last.elapsed() >= REPORT_EVERY && broken.is_none() {
                last = Instant::now();
                broken = send(&mut output, &Report::Progress { fraction }).err();
                if broken.is_some() {
                    // Nobody reads the reports any more: stop encoding.
                    cancel.cancel();
                }
            }
        },
    );
    if let Some(e) = broken {
        return Err(e);
    }
    let report = match result {
        Ok(output) => Report::Done { output },
        Err(error) => Report::Failed {
            code: error.code(),
            message: error.to_string(),
        },
    };
    send(&mut output, &report)
}

fn send(output: &mut impl Write, report: &Report) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(report).map_err(std::io::Error::other)?;
    line.push(b'\n');
    output.write_all(&line)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_is_a_protocol_error() {
        let mut out = Vec::new();
        let err = run(&b"{\"input\": 3}"[..], &mut out).unwrap_err();
        assert!(err.to_string().contains("reading the request"), "{err}");
        assert!(out.is_empty());
    }

    #[test]
    fn a_missing_master_is_reported_as_a_media_failure() {
        let dir = tempfile::tempdir().unwrap();
        let request = ChildRequest::new(
            dir.path().join("missing"),
            dir.path().join("out"),
            &TranscodeOptions::default(),
            Limits {
                memory_bytes: u64::MAX,
                cpu_seconds: 3600,
            },
        );
        let mut out = Vec::new();
        work(&request, &mut out).unwrap();
        let reports: Vec<Report> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(matches!(reports[0], Report::Started { .. }));
        assert!(
            matches!(
                &reports[1],
                Report::Failed {
                    code: FailureCode::InvalidMedia,
                    ..
                }
            ),
            "{reports:?}"
        );
    }
}
