//! The transcode child as a sandbox: it decodes attacker bytes with FFmpeg,
//! so it must hold nothing worth stealing and reach nothing worth
//! attacking. A `goflix serve` with secrets in its environment transcodes
//! a clip; its child, read from `/proc` while it works, has none of them
//! in its environment, runs with no new privileges under a seccomp filter,
//! holds no descriptor but its pipes and its own job's files, and, when the
//! worker runs as root, runs as a user that cannot open `token.key`. The
//! job still completes.

use crate::common::{clip, Api};
use crate::hostile::serve_process::ServeProcess;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Secrets of the worker's environment, none of which the child may see.
const SECRETS: &[(&str, &str)] = &[
    ("GOFLIX_SMTP_URL", "smtp://user:s3cret-smtp@127.0.0.1:1"),
    ("GOFLIX_SMTP_FROM", "goflix@example.test"),
    ("GOFLIX_SMS_URL", "https://user:s3cret-sms@127.0.0.1:1/send"),
    ("GOFLIX_SMS_FROM", "+15550100"),
    ("GOFLIX_ORIGIN_CDN_SECRET", "s3cret-cdn-shared-secret"),
    ("AWS_SECRET_ACCESS_KEY", "s3cret-aws-secret-access-key"),
];

/// How long the clip's job may take.
const SETTLE: Duration = Duration::from_secs(240);

/// The `transcode-child` process whose parent is `parent`, once it runs.
async fn transcode_child_of(parent: u32) -> u32 {
    let started = Instant::now();
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let is_child = cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == b"transcode-child");
            if is_child && status_field(pid, "PPid").as_deref() == Some(&parent.to_string()) {
                return pid;
            }
        }
        assert!(started.elapsed() < SETTLE, "no transcode child appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A field of `/proc/{pid}/status`, its first word (for `Uid`, the real uid).
fn status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.split_whitespace().next().map(str::to_owned)
    })
}

/// Uploads `file` as the admin; returns the video's id.
async fn upload(server: &ServeProcess, token: &str, file: &Path) -> String {
    let bytes = std::fs::read(file).unwrap();
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("master.mp4")
        .mime_str("video/mp4")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("title", "sandboxed")
        .part("file", part);
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/videos", server.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Polls until the video is `ready` or `failed`.
async fn settled(server: &ServeProcess, token: &str, id: &str) -> Value {
    let api = Api {
        client: &reqwest::Client::new(),
        base: &server.base,
        token,
    };
    api.wait_settled(id, SETTLE, || server.log_text()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_transcode_child_holds_no_secret_and_cannot_read_the_key_file() {
    let server = ServeProcess::start(SECRETS).await;
    let token = server.admin_token().await;
    let media = tempfile::tempdir().unwrap();
    let master = clip(media.path(), "long.mp4", "640x360", 25, true);
    let id = upload(&server, &token, &master).await;
    let child = transcode_child_of(server.pid()).await;

    let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ).replace('\0', "\n");
    let admin_password = crate::common::ADMIN_PASSWORD;
    for secret in SECRETS.iter().map(|(_, v)| *v).chain([admin_password]) {
        assert!(
            !environ.contains(secret),
            "{secret} in the child's environment:\n{environ}"
        );
    }
    assert!(
        !environ.contains("GOFLIX_"),
        "the child's environment:\n{environ}"
    );

    assert_eq!(status_field(child, "NoNewPrivs").as_deref(), Some("1"));
    assert_eq!(
        status_field(child, "Seccomp").as_deref(),
        Some("2"),
        "no seccomp filter"
    );

    let data_dir = server.data_dir.path().join("data");
    for fd in std::fs::read_dir(format!("/proc/{child}/fd"))
        .unwrap()
        .flatten()
    {
        let number: u32 = fd.file_name().to_str().unwrap().parse().unwrap();
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue; // closed meanwhile
        };
        let shown = target.display().to_string();
        if number <= 2 {
            assert!(shown.starts_with("pipe:"), "fd {number} is {shown}");
        } else {
            assert!(
                !shown.starts_with("socket:") && !shown.starts_with("pipe:"),
                "fd {number} is {shown}"
            );
            assert!(!target.starts_with(&data_dir), "fd {number} is {shown}");
        }
    }

    if status_field(std::process::id(), "Uid").as_deref() == Some("0") {
        let uid: u32 = status_field(child, "Uid").unwrap().parse().unwrap();
        let gid: u32 = status_field(child, "Gid").unwrap().parse().unwrap();
        assert_ne!(uid, 0, "a root worker's child runs as root");
        let key = data_dir.join("token.key");
        assert_ne!(std::fs::metadata(&key).unwrap().uid(), uid);
        let read = std::process::Command::new("cat")
            .arg(&key)
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap();
        assert!(
            !read.status.success() && read.stdout.is_empty(),
            "uid {uid} read token.key"
        );
    }

    let video = settled(&server, &token, &id).await;
    assert_eq!(video["state"], "ready", "{video}\n{}", server.log_text());
}
