//! The served OpenAPI document against the running server: schemathesis
//! (PyPI, installed by `scripts/install-deps.sh --test`) generates requests
//! for every operation of `/api/v1/openapi.json` and checks that none gets
//! a 5xx and that every response's status, content type and body are the
//! documented ones.

use crate::common::{clip, spawn_app};
use std::process::Command;
use std::time::Duration;

/// Test cases per operation and phase; generation is deterministic (no
/// random seed, no example database), so every run sends the same requests.
const MAX_EXAMPLES: &str = "25";

/// The schemathesis checks the API must pass.
const CHECKS: &str = "not_a_server_error,status_code_conformance,\
                      content_type_conformance,response_schema_conformance";

/// Fails clearly when the CLI is missing.
fn schemathesis_version() -> String {
    let output = Command::new("st")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!("schemathesis is not installed (`st`: {e}); run scripts/install-deps.sh --test")
        });
    assert!(output.status.success(), "`st --version` failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Per-operation settings: the `/videos/{id}` operations act on the
/// uploaded video instead of random ids, so their success responses are
/// checked too (`DELETE` keeps random ids so the video stays for the rest).
fn config(video_id: &str) -> String {
    format!(
        r#"
[[operations]]
include-path-regex = "^/videos/\\{{id\\}}"
exclude-method = "DELETE"
parameters = {{ "path.id" = "{video_id}" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_the_openapi_document_says() {
    let version = schemathesis_version();
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "tiny.mp4", "160x90", 1, true);
    let (status, accepted) = app.upload("schemathesis", &source).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    // Ready, with renditions and playback URLs to check against the
    // schema, before the run changes it.
    let video = app.wait_settled(&id, Duration::from_secs(120)).await;
    assert_eq!(video["state"], "ready", "{video}");

    // Schemathesis keeps its state in `.schemathesis/` under its working folder.
    let workdir = media.path().to_path_buf();
    let config_file = media.path().join("schemathesis.toml");
    std::fs::write(&config_file, config(&id)).unwrap();
    let schema = format!("{}/api/v1/openapi.json", app.base);
    let authorization = format!("Authorization: Bearer {}", app.token);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("st")
            .current_dir(&workdir)
            // Raw-byte bodies (tus) come from the hooks module beside this file.
            .env(
                "PYTHONPATH",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/suite"),
            )
            .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
            .arg("--config-file")
            .arg(&config_file)
            .args(["run", &schema, "--checks", CHECKS])
            .args(["--header", &authorization])
            .args(["--max-examples", MAX_EXAMPLES, "--generation-deterministic"])
            .args(["--phases", "examples,coverage,fuzzing", "--workers", "1"])
            .args(["--no-color", "--output-truncate", "false"])
            .output()
    })
    .await
    .unwrap()
    .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{version} found problems ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
