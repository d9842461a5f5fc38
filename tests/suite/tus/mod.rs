//! Resumable uploads over tus: real tus clients nobody here wrote (tuspy,
//! tus-js-client) upload to both storage backends ([`clients`]), uploads
//! resume after the server is killed and after the client is cut off
//! ([`resume`]), protocol errors answer what the specification names and
//! store nothing ([`protocol`]), and direct-upload tokens open one upload
//! only ([`direct`]).

mod clients;
mod direct;
mod protocol;
mod resume;

use crate::common::{e2e_dir, ffmpeg};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tus clients under test.
#[derive(Debug, Clone, Copy)]
pub enum TusClient {
    /// tuspy (PyPI), with sha1 checksums on every PATCH.
    Tuspy,
    /// tus-js-client (npm) in Node.
    TusJs,
}

/// Where a client starts.
pub enum Target<'a> {
    /// Creates an upload at this collection URL.
    Create(&'a str),
    /// Resumes the upload at this URL.
    Resume(&'a str),
}

/// Runs `client` on `file` with `token`, in chunks of `chunk` bytes; its
/// JSON report (`url` of the upload), or its error output.
pub fn upload_with(
    client: TusClient,
    file: &Path,
    token: &str,
    target: Target,
    chunk: usize,
    extra: &[&str],
) -> Result<Value, String> {
    let (flag, url) = match target {
        Target::Create(url) => ("--endpoint", url),
        Target::Resume(url) => ("--url", url),
    };
    let chunk = chunk.to_string();
    let dir = e2e_dir();
    let mut command = match client {
        TusClient::Tuspy => {
            let mut c = Command::new("python3");
            c.arg(dir.join("tus_upload.py"))
                .arg(file)
                .args(["--token", token]);
            c
        }
        TusClient::TusJs => {
            let mut c = Command::new("node");
            c.arg(dir.join("tus_upload.mjs")).arg(file).arg(token);
            c
        }
    };
    let output = command
        .args([flag, url, "--chunk", &chunk])
        .args(extra)
        .current_dir(&dir)
        .output()
        .expect("python3 and node (scripts/install-deps.sh --test installs them)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{client:?} failed: {}{stdout}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report = stdout.lines().last().unwrap_or_default();
    println!("{client:?} printed: {report}");
    serde_json::from_str(report).map_err(|e| format!("{client:?} printed {stdout:?}: {e}"))
}

/// The upload id at the end of an upload URL.
pub fn id_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

/// A clip of noise, encoded losslessly, so that `seconds` of it pass
/// S3's 8 MiB part size (about 11 MB a second).
pub fn noisy_clip(dir: &Path, name: &str, seconds: &str) -> PathBuf {
    let out = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25,noise=alls=60:allf=t",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        seconds,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        out.to_str().unwrap(),
    ]);
    out
}

/// Lowercase hex SHA-256 of a file.
pub fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The files below `dir` (none when it does not exist), as paths relative to it.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found
}
