//! tuspy and tus-js-client upload a clip in several chunks to the folder
//! backend (SQLite, in-process `goflix serve`) and to S3 (`goflix serve`
//! on PostgreSQL, RabbitMQ and s3s-fs); the stored master is the file,
//! byte for byte, and the video becomes ready.

use super::{id_of, noisy_clip, sha256, upload_with, Target, TusClient};
use crate::common::cluster::{Cluster, S3Server};
use crate::common::{spawn_app, Api};
use std::path::Path;
use std::time::Duration;

/// 3 MiB chunks: S3 parts fill across PATCHes, and tails are carried over.
const CHUNK: usize = 3 << 20;

async fn upload_and_check(api: Api<'_>, objects: &Path, file: &Path, client: TusClient) {
    let endpoint = format!("{}/api/v1/uploads/tus", api.base);
    let (file_owned, token) = (file.to_owned(), api.token.to_owned());
    let report = tokio::task::spawn_blocking(move || {
        upload_with(
            client,
            &file_owned,
            &token,
            Target::Create(&endpoint),
            CHUNK,
            &[],
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));
    let id = id_of(report["url"].as_str().unwrap());
    let video = api
        .wait_settled(&id, Duration::from_secs(180), String::new)
        .await;
    assert_eq!(video["state"], "ready", "{client:?}: {video}");
    assert_eq!(
        sha256(&objects.join("masters").join(&id)),
        sha256(file),
        "{client:?}: the stored master differs from the file"
    );
    assert_eq!(
        super::files_under(&objects.join("uploads").join(&id)),
        Vec::<String>::new(),
        "{client:?}: the staging area outlived the upload"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_clients_upload_to_the_folder_backend() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = noisy_clip(dir.path(), "noise.mp4", "1.2");
    let objects = app.data_dir.path().join("objects");
    for client in [TusClient::Tuspy, TusClient::TusJs] {
        upload_and_check(app.api(), &objects, &file, client).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_clients_upload_to_s3_behind_postgres_and_rabbitmq() {
    let mut cluster = Cluster::new().await;
    let s3 = S3Server::start(cluster.dir.path());
    cluster.use_s3(&s3);
    cluster.start_serve().await;
    let file = noisy_clip(cluster.dir.path(), "noise.mp4", "1.2");
    for client in [TusClient::Tuspy, TusClient::TusJs] {
        upload_and_check(cluster.api(), &s3.objects(), &file, client).await;
    }
}
