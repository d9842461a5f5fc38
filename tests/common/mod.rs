//! Test harness: `spawn_app()` starts `goflix serve` in-process on port 0
//! with its own data directory, plus helpers for each endpoint and for
//! generating media with the ffmpeg CLI (test media only; production code
//! never spawns ffmpeg). [`cluster`] runs the distributed roles as processes.

#![allow(dead_code)] // each test binary uses a different subset of helpers

pub mod cluster;
pub mod pages;
pub mod runners;

use goflix_shared::config::Config;
use goflix_shared::shutdown::Shutdown;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@example.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A running server and an admin's token.
pub struct TestApp {
    pub base: String,
    /// The gRPC port of remote runners, when `GOFLIX_GRPC_LISTEN` was set.
    pub grpc: Option<String>,
    pub token: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    shutdown: Shutdown,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`] with extra `GOFLIX_*` settings.
pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut vars = vec![
        (
            "GOFLIX_DATA_DIR".to_string(),
            data_dir.path().display().to_string(),
        ),
        ("GOFLIX_LISTEN".into(), "127.0.0.1:0".into()),
        ("GOFLIX_ADMIN_EMAIL".into(), ADMIN_EMAIL.into()),
        ("GOFLIX_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
        // The test binary is not goflix: jobs run in the real executable.
        (
            "GOFLIX_JOB_EXECUTABLE".into(),
            env!("CARGO_BIN_EXE_goflix").into(),
        ),
    ];
    vars.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_vars(vars).unwrap();
    let shutdown = Shutdown::new();
    let running = goflix::serve::start(config, shutdown.clone())
        .await
        .unwrap();
    let base = format!("http://{}", running.addr);
    let grpc = running.grpc_addr.map(|addr| addr.to_string());
    tokio::spawn(running.wait());
    let client = reqwest::Client::new();
    let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    TestApp {
        base,
        grpc,
        token,
        client,
        data_dir,
        shutdown,
    }
}

/// Signs in with the `password` grant; the token endpoint's answer.
pub async fn password_grant(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Value {
    let response = client
        .post(format!("{base}/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sign-in of {email} failed");
    response.json().await.unwrap()
}

/// Signs in with the `password` grant; the access token.
pub async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    password_grant(client, base, email, password).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The HTTP API at `base` as the holder of `token`.
#[derive(Clone, Copy)]
pub struct Api<'a> {
    pub client: &'a reqwest::Client,
    pub base: &'a str,
    pub token: &'a str,
}

impl Api<'_> {
    /// `GET /api/v1/videos/{id}`.
    pub async fn video(&self, id: &str) -> Value {
        self.client
            .get(format!("{}/api/v1/videos/{id}", self.base))
            .bearer_auth(self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls the video every 100 ms until `done` holds; returns it. Fails
    /// after `limit`, saying it was not `what`, with `context()` (say, the
    /// servers' logs).
    pub async fn wait_for(
        &self,
        id: &str,
        (what, limit): (&str, Duration),
        done: impl Fn(&Value) -> bool,
        context: impl Fn() -> String,
    ) -> Value {
        let started = Instant::now();
        loop {
            let video = self.video(id).await;
            if done(&video) {
                return video;
            }
            assert!(
                started.elapsed() < limit,
                "video {id}: not {what} after {limit:?}: {video}\n{}",
                context()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until the video is `ready` or `failed`; returns its last state.
    pub async fn wait_settled(
        &self,
        id: &str,
        limit: Duration,
        context: impl Fn() -> String,
    ) -> Value {
        let settled = |v: &Value| matches!(v["state"].as_str(), Some("ready" | "failed"));
        self.wait_for(id, ("settled", limit), settled, context)
            .await
    }

    /// The id of the account the token belongs to.
    pub async fn own_id(&self) -> String {
        let me: Value = self
            .client
            .get(format!("{}/api/v1/users/me", self.base))
            .bearer_auth(self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        me["id"].as_str().unwrap().to_owned()
    }

    /// `PATCH /api/v1/users/{id}` with `change`; returns the status.
    pub async fn patch_user(&self, id: &str, change: &Value) -> u16 {
        self.client
            .patch(format!("{}/api/v1/users/{id}", self.base))
            .bearer_auth(self.token)
            .json(change)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Waits until `{base}/healthz` answers; panics after `limit` with `log()`.
pub async fn wait_healthy(
    client: &reqwest::Client,
    base: &str,
    limit: Duration,
    log: impl Fn() -> String,
) {
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < limit,
            "{base} did not answer within {limit:?}: {}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl TestApp {
    /// Uploads `file` streamed from disk; returns the response status and body.
    pub async fn upload(&self, title: &str, file: &Path) -> (u16, Value) {
        self.upload_form(title, file, None).await
    }

    /// Like [`TestApp::upload`] with a `visibility` (`public`, `unlisted`, `private`).
    pub async fn upload_with(&self, title: &str, file: &Path, visibility: &str) -> (u16, Value) {
        self.upload_form(title, file, Some(visibility)).await
    }

    async fn upload_form(
        &self,
        title: &str,
        file: &Path,
        visibility: Option<&str>,
    ) -> (u16, Value) {
        let handle = tokio::fs::File::open(file).await.unwrap();
        let len = handle.metadata().await.unwrap().len();
        let part = reqwest::multipart::Part::stream_with_length(handle, len)
            .file_name(file.file_name().unwrap().to_string_lossy().to_string())
            .mime_str("video/mp4")
            .unwrap();
        let mut form = reqwest::multipart::Form::new().text("title", title.to_string());
        if let Some(visibility) = visibility {
            form = form.text("visibility", visibility.to_string());
        }
        let form = form.part("file", part);
        let response = self
            .client
            .post(format!("{}/api/v1/videos", self.base))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The API as the admin.
    pub fn api(&self) -> Api<'_> {
        Api {
            client: &self.client,
            base: &self.base,
            token: &self.token,
        }
    }

    pub async fn video(&self, id: &str) -> Value {
        self.api().video(id).await
    }

    /// Polls until the video is `ready` or `failed`; returns its last state.
    pub async fn wait_settled(&self, id: &str, limit: Duration) -> Value {
        self.api().wait_settled(id, limit, String::new).await
    }

    /// Polls the video until `done` holds; returns it.
    pub async fn wait_for(
        &self,
        id: &str,
        (what, limit): (&str, Duration),
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.api()
            .wait_for(id, (what, limit), done, String::new)
            .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// A playback token for the video `id`, issued to the admin.
    pub async fn playback_token(&self, id: &str) -> String {
        let response = self
            .client
            .post(format!("{}/api/v1/videos/{id}/playback-token", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().expect("a token").to_owned()
    }

    /// The body of a GET, whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }
}

/// Runs the ffmpeg CLI to make test media.
pub fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg CLI (scripts/install-deps.sh --test installs it)");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// A 1280×720 test pattern of `seconds` with temporal noise of strength
/// `noise` (which keeps x264 busy and the file large) and a sine tone.
pub fn noisy_clip(dir: &Path, name: &str, seconds: u32, noise: u32) -> PathBuf {
    let out = dir.join(name);
    let video =
        format!("testsrc2=size=1280x720:rate=30:duration={seconds},noise=alls={noise}:allf=t");
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &tone,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        out.to_str().unwrap(),
    ]);
    out
}

/// A `seconds`-long test pattern with a sine tone (or silent when `audio` is false).
pub fn clip(dir: &Path, name: &str, size: &str, seconds: u32, audio: bool) -> PathBuf {
    let out = dir.join(name);
    let video = format!("testsrc2=size={size}:rate=30:duration={seconds}");
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if audio {
        args.extend(["-f", "lavfi", "-i", &tone, "-c:a", "aac"]);
    }
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        out.to_str().unwrap(),
    ]);
    ffmpeg(&args);
    out
}

/// ffprobe's JSON for `file` with the given extra arguments.
pub fn ffprobe(file: &Path, args: &[&str]) -> Value {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe CLI");
    assert!(output.status.success(), "ffprobe failed on {file:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The presentation times (as ffprobe prints them) of the keyframes of the
/// first video stream of `file`.
pub fn keyframe_times(file: &Path) -> Vec<String> {
    let info = ffprobe(
        file,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,flags",
        ],
    );
    info["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["flags"].as_str().unwrap().contains('K'))
        .map(|p| p["pts_time"].as_str().unwrap().to_string())
        .collect()
}

/// Plays `url` with a real player (`hls` or `dash`) in headless Chromium
/// past `min_seconds` of media (`e2e/play.mjs`); panics unless it played.
/// Returns the script's report (`time`, `levels` heights, fatal `errors`,
/// non-fatal `warnings`).
pub fn play_in_browser(player: &str, url: &str, min_seconds: u32) -> Value {
    let dir = e2e_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in {} first (scripts/test.sh does)",
        dir.display()
    );
    e2e_report(
        "play.mjs",
        &[player, url, &min_seconds.to_string()],
        &format!("{player} did not play {url}"),
    )
}

/// Plays `url` with a real player (`hls`, `dash` or `shaka`) in headless
/// Chromium (`e2e/tracks.mjs`), switches its audio to `audio_language` and
/// shows its subtitles in `text_language`, and reads the cue active at
/// `cue_time` s; panics unless it found one. Returns the script's report
/// (`audio` and `text` languages, `audioAfterSwitch`, `requestsAfterSwitch`,
/// `cue`, `errors`).
pub fn play_tracks(
    player: &str,
    url: &str,
    audio_language: &str,
    text_language: &str,
    cue_time: f64,
) -> Value {
    e2e_report(
        "tracks.mjs",
        &[
            player,
            url,
            audio_language,
            text_language,
            &cue_time.to_string(),
        ],
        &format!("{player} did not show a cue of {url}"),
    )
}

/// Plays `url`, which lists H.264 and AV1 ladders, with a real player
/// (`hls`, `dash` or `shaka`) in headless Chromium (`e2e/codecs.mjs`)
/// preferring AV1; with `mode` `no-av1` the page first says it cannot
/// decode AV1. Panics unless it played; returns the script's report
/// (`codec` chosen, video `media` fetched, `av1Supported`, `errors`).
pub fn play_codecs(player: &str, url: &str, mode: &str) -> Value {
    e2e_report(
        "codecs.mjs",
        &[player, url, mode],
        &format!("{player} ({mode}) did not play {url}"),
    )
}

/// Runs `e2e/{script}` with `args` and returns the JSON report it prints;
/// panics with `failure`, its output and its errors unless it succeeded.
fn e2e_report(script: &str, args: &[&str], failure: &str) -> Value {
    let output = Command::new("node")
        .arg(e2e_dir().join(script))
        .args(args)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{failure}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("report {stdout:?}: {e}"))
}

/// Starts a real player (`hls` or `dash`) on the growing stream at `url`
/// in headless Chromium (`e2e/play_live.mjs`), playing to its end within
/// 240 s; [`live_report`] waits for it.
pub fn join_live(
    player: &'static str,
    url: String,
) -> std::thread::JoinHandle<std::process::Output> {
    std::thread::spawn(move || {
        Command::new("node")
            .arg(e2e_dir().join("play_live.mjs"))
            .args([player, url.as_str(), "240"])
            .output()
            .expect("node")
    })
}

/// The report of a player [`join_live`] started (`liveAtStart`,
/// `startedAtMs`, `startPosition`, `duration`); panics unless it played
/// to the end.
pub async fn live_report(player: std::thread::JoinHandle<std::process::Output>) -> Value {
    let output = tokio::task::spawn_blocking(move || player.join().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the player did not play to the end: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

/// Where the e2e player scripts and their node_modules live.
pub fn e2e_dir() -> PathBuf {
    std::env::var_os("GOFLIX_E2E_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e"))
}
