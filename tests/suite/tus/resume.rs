//! Resumption: `goflix serve` (PostgreSQL, RabbitMQ; folder or S3) is
//! killed with SIGKILL while a PATCH streams in, and a client is cut off
//! mid-PATCH. HEAD then reports only bytes durably stored (the killed
//! PATCH's bytes are lost, at most that one chunk; the cut-off one's are
//! kept), tuspy resumes from there against the restarted process, the
//! master is byte-identical and exactly one video exists.

use super::{id_of, noisy_clip, sha256, upload_with, Target, TusClient};
use crate::common::cluster::{Cluster, S3Server};
use bytes::Bytes;
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// A PATCH at `offset` whose body is `bytes` and then whatever `rest`
/// does: never ends (`None`) or fails, cutting the connection (`Some`).
fn partial_patch(
    cluster: &Cluster,
    url: &str,
    offset: u64,
    bytes: Vec<u8>,
    cut: bool,
) -> tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>> {
    let head = futures_util::stream::iter(
        bytes
            .chunks(256 << 10)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let tail = futures_util::stream::once(async move {
        if cut {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Err(std::io::Error::other("the client's network went away"))
        } else {
            futures_util::future::pending().await
        }
    });
    use futures_util::StreamExt;
    let request = cluster
        .client
        .patch(url)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .bearer_auth(cluster.token())
        .body(reqwest::Body::wrap_stream(head.chain(tail)));
    tokio::spawn(request.send())
}

async fn offset(cluster: &Cluster, url: &str) -> u64 {
    let response = cluster
        .client
        .head(url)
        .header("Tus-Resumable", "1.0.0")
        .bearer_auth(cluster.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn tuspy(file: &Path, token: &str, target: Target, extra: &[&str]) -> serde_json::Value {
    upload_with(TusClient::Tuspy, file, token, target, MIB as usize, extra)
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn resume_after_kill_and_cut(mut cluster: Cluster, objects: &Path) {
    cluster.start_serve().await;
    let file = noisy_clip(cluster.dir.path(), "noise.mp4", "1.2");
    let bytes = std::fs::read(&file).unwrap();
    let endpoint = format!("{}/api/v1/uploads/tus", cluster.base);

    // 4 MiB in four chunks, then a PATCH that is streaming when the server dies.
    let (f, t) = (file.clone(), cluster.token().to_owned());
    let report = tokio::task::spawn_blocking(move || {
        tuspy(
            &f,
            &t,
            Target::Create(&endpoint),
            &["--stop-at", &(4 * MIB).to_string()],
        )
    })
    .await
    .unwrap();
    let url = report["url"].as_str().unwrap().to_owned();
    assert_eq!(offset(&cluster, &url).await, 4 * MIB);
    let streaming = partial_patch(
        &cluster,
        &url,
        4 * MIB,
        bytes[4 * MIB as usize..6 * MIB as usize].to_vec(),
        false,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.control.as_mut().unwrap().kill();
    assert!(
        streaming.await.unwrap().is_err(),
        "the PATCH outlived the server"
    );
    cluster.start_serve().await;
    assert_eq!(
        offset(&cluster, &url).await,
        4 * MIB,
        "HEAD must count only what was stored durably before the kill"
    );

    // A client cut off mid-PATCH: what arrived is kept.
    let cut = partial_patch(
        &cluster,
        &url,
        4 * MIB,
        bytes[4 * MIB as usize..7 * MIB as usize].to_vec(),
        true,
    );
    let _ = cut.await.unwrap();
    let started = Instant::now();
    let kept = loop {
        let now = offset(&cluster, &url).await;
        if now > 4 * MIB {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the cut-off PATCH kept nothing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(kept <= 7 * MIB, "{kept}");

    // tuspy resumes from HEAD's offset and finishes.
    let (f, t, u) = (file.clone(), cluster.token().to_owned(), url.clone());
    let report = tokio::task::spawn_blocking(move || tuspy(&f, &t, Target::Resume(&u), &[]))
        .await
        .unwrap();
    assert_eq!(report["started_at"].as_u64(), Some(kept), "{report}");
    let id = id_of(&url);
    let video = cluster.wait_settled(&id, Duration::from_secs(180)).await;
    assert_eq!(video["state"], "ready", "{video}\n{}", cluster.logs());
    assert_eq!(sha256(&objects.join("masters").join(&id)), sha256(&file));
    let listed: serde_json::Value = cluster
        .client
        .get(format!("{}/api/v1/videos?limit=100", cluster.base))
        .bearer_auth(cluster.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tus_upload_resumes_after_a_sigkill_and_a_cut_off_client_on_the_folder_backend() {
    let cluster = Cluster::new().await;
    let objects = cluster.objects();
    resume_after_kill_and_cut(cluster, &objects).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tus_upload_resumes_after_a_sigkill_and_a_cut_off_client_on_s3() {
    let mut cluster = Cluster::new().await;
    let s3 = S3Server::start(cluster.dir.path());
    cluster.use_s3(&s3);
    resume_after_kill_and_cut(cluster, &s3.objects()).await;
}
