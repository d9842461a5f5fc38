//! `goflix serve` as a separate process, for the attacks whose cost is

#![allow(dead_code)] // shared by the modules; each uses a subset
//! memory: its peak resident set (`VmHWM`) is read from `/proc`, never the
//! test process's own. Memory tests take [`SERIAL`] so that only one such
//! process is under attack at a time.

use crate::common::cluster::{goflix, read_log};
use crate::common::{login, ADMIN_EMAIL, ADMIN_PASSWORD};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Held by every test that measures a server's memory.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running `goflix serve` of its own, with its data folder and log.
pub struct ServeProcess {
    child: Child,
    pub base: String,
    pub data_dir: tempfile::TempDir,
    log: PathBuf,
}

impl ServeProcess {
    /// Starts `goflix serve` on a free port with `settings` (extra
    /// `GOFLIX_*` variables); returns once `/healthz` answers.
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let port = goflix_testkit::free_port();
        let log = data_dir.path().join("serve.log");
        let child = goflix()
            .arg("serve")
            .env("GOFLIX_DATA_DIR", data_dir.path().join("data"))
            .env("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))
            .env("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("goflix binary");
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir,
            log,
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while !client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "goflix serve did not start: {}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An admin's access token.
    pub async fn admin_token(&self) -> String {
        login(
            &reqwest::Client::new(),
            &self.base,
            ADMIN_EMAIL,
            ADMIN_PASSWORD,
        )
        .await
    }

    /// A `/proc/{pid}/status` memory figure in KiB (`VmHWM`, `VmRSS`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }

    /// Resets the peak (`VmHWM`) to the current resident set, so a later
    /// reading is the peak of what happened since.
    pub fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").unwrap();
    }

    /// How far the peak rose above `baseline_kib`, in MiB, since the last [`Self::reset_peak`].
    pub fn peak_growth_mib(&self, baseline_kib: u64) -> f64 {
        self.status_kib("VmHWM").saturating_sub(baseline_kib) as f64 / 1024.0
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What it logged; panics when the log cannot be read.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
