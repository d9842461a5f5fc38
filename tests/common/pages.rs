//! The browser tests of the pages: `goflix serve` on embedded defaults (a
//! SQLite file, a folder, the database as queue) in a temporary data
//! directory, and the Playwright scripts of `e2e/` run against it in
//! headless Chromium. Each script prints one JSON report on stdout and
//! exits non-zero when a check fails; screenshots go to
//! `target/page-artifacts/` (kept as test artifacts).

use crate::common::{e2e_dir, login, wait_healthy, Api, ADMIN_EMAIL, ADMIN_PASSWORD};
use goflix_testkit::free_port;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `goflix serve` process for page tests; killed on drop.
pub struct ServedPages {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    /// An admin's access token.
    pub token: String,
    /// The HTTP client the test uses.
    pub client: reqwest::Client,
    log: PathBuf,
    _data: tempfile::TempDir,
}

impl ServedPages {
    /// Starts `goflix serve` with `settings` and waits until it answers and
    /// the admin (`ADMIN_EMAIL`) is signed in.
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = data.path().join("serve.log");
        let mut command = crate::common::cluster::goflix();
        command
            .arg("serve")
            .env("GOFLIX_DATA_DIR", data.path().join("data"))
            .env("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))
            .env("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (name, value) in settings {
            command.env(name, value);
        }
        let child = command.spawn().expect("goflix binary");
        let client = reqwest::Client::new();
        let log_path = log.clone();
        wait_healthy(&client, &base, Duration::from_secs(60), move || {
            std::fs::read_to_string(&log_path).unwrap_or_default()
        })
        .await;
        let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        Self {
            child,
            base,
            token,
            client,
            log,
            _data: data,
        }
    }

    /// The API as the admin.
    pub fn api(&self) -> Api<'_> {
        Api {
            client: &self.client,
            base: &self.base,
            token: &self.token,
        }
    }

    /// The body of `GET {path}`.
    pub async fn get_text(&self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    }

    /// Uploads `file` as the admin with `visibility`; returns the video id.
    pub async fn upload(&self, title: &str, file: &Path, visibility: &str) -> String {
        let part = reqwest::multipart::Part::bytes(std::fs::read(file).unwrap())
            .file_name("clip.mp4")
            .mime_str("video/mp4")
            .unwrap();
        let form = reqwest::multipart::Form::new()
            .text("title", title.to_owned())
            .text("visibility", visibility.to_owned())
            .part("file", part);
        let response = self
            .client
            .post(format!("{}/api/v1/videos", self.base))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// Runs `e2e/{script}` with `args` against this server (`E2E_BASE_URL`,
    /// `GOFLIX_ADMIN_EMAIL`, `GOFLIX_ADMIN_PASSWORD` and
    /// `E2E_ARTIFACTS` in its environment) and returns its report;
    /// panics with its output and the server's log when it fails.
    pub fn run(&self, script: &str, args: &[&str]) -> Value {
        let dir = e2e_dir();
        assert!(
            dir.join("node_modules/playwright-core").exists()
                && dir.join("node_modules/axe-core").exists(),
            "run `npm ci` in {} first (scripts/test.sh does)",
            dir.display()
        );
        let artifacts = artifacts_dir();
        let output = Command::new("node")
            .arg(dir.join(script))
            .args(args)
            .env("E2E_BASE_URL", &self.base)
            .env("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("E2E_ARTIFACTS", &artifacts)
            .output()
            .expect("node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{script} {args:?} failed: {stdout}\n{}\n--- server log ---\n{}",
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("report {stdout:?}: {e}"))
    }
}

impl Drop for ServedPages {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where page scripts write screenshots: `$CARGO_TARGET_DIR/page-artifacts`
/// (else `target/page-artifacts`).
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("page-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
