//! Remote transcoding runners (`goflix runner`) against real control
//! planes: `goflix serve` on its database queue with its gRPC port over
//! TLS, and control-api on RabbitMQ and PostgreSQL with two runners and no
//! in-cluster worker. A runner holds nothing but the server's address and a
//! registration token; grpcio (PyPI) checks health and reflection; crafted
//! requests of a runner of our own making probe what a credential allows.

use crate::common::cluster::{assert_published_once, Cluster};
use crate::common::runners::{
    self, channel, client, grpcio_probe, registration_token, revoke, runner_holding,
    test_certificates, RunnerProcess,
};
use crate::common::{clip, join_live, live_report, noisy_clip, spawn_app_with, TestApp};
use goflix_runner_proto::{
    runner_message, server_message, write_object_message, Assignment, DeletePrefixRequest, Hello,
    ReadObjectRequest, RegisterRequest, RunnerMessage, ServerMessage, WriteObjectHeader,
    WriteObjectMessage,
};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(300);

/// `goflix serve` with a gRPC port and no in-process worker: only runners transcode.
async fn serve_for_runners(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("GOFLIX_GRPC_LISTEN", "127.0.0.1:0"),
        ("GOFLIX_SERVE_WORKERS", "0"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_with_only_a_server_and_a_token_transcodes_an_upload_playable_while_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = test_certificates(dir.path());
    let cert_s = certificates.cert.display().to_string();
    let key_s = certificates.key.display().to_string();
    let ca_s = certificates.ca.display().to_string();
    let app = serve_for_runners(&[
        ("GOFLIX_GRPC_TLS_CERT_FILE", &cert_s),
        ("GOFLIX_GRPC_TLS_KEY_FILE", &key_s),
    ])
    .await;
    let grpc = app.grpc.clone().unwrap();

    // grpcio, over TLS: health and reflection (v1alpha).
    let probe = grpcio_probe(&grpc, Some(&certificates.ca));
    eprintln!("grpcio probe: {probe}");
    assert_eq!(probe["health"][""], "SERVING", "{probe}");
    assert_eq!(
        probe["health"]["goflix.runner.v1.RunnerService"], "SERVING",
        "{probe}"
    );
    let services: Vec<&str> = probe["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for service in [
        "goflix.runner.v1.RunnerService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.contains(&service), "{service} in {probe}");
    }
    assert_eq!(
        probe["methods"],
        serde_json::json!([
            "DeletePrefix",
            "ReadObject",
            "Register",
            "Session",
            "WriteObject"
        ])
    );

    let (_, token) = registration_token(app.api(), None).await;
    let runner = RunnerProcess::start(
        dir.path(),
        "office-gpu",
        &format!("https://{grpc}"),
        &token,
        &[("GOFLIX_RUNNER_CA_FILE", ca_s)],
    )
    .await;
    let credential = runner.data_dir.join("runner.credential");
    let mode = std::fs::metadata(&credential).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the credential is its owner's only");

    let source = noisy_clip(dir.path(), "source.mp4", 60, 30);
    let (status, created) = app.upload("Through a runner", &source).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let holder = runner_holding(app.api(), &id, Duration::from_secs(60)).await;
    let listed = runners::runners(app.api()).await;
    let row = listed.iter().find(|r| r["id"] == holder.as_str()).unwrap();
    assert_eq!(row["name"], "office-gpu", "{row}");
    assert_eq!(row["version"], env!("CARGO_PKG_VERSION"), "{row}");

    // Progressive publishing through the runner: playable while processing,
    // and hls.js joins then.
    let master = format!("/v/{id}/master.m3u8");
    let video = app
        .wait_for(&id, ("playable", Duration::from_secs(120)), |v| {
            v["playable"] == true || v["state"] == "ready" || v["state"] == "failed"
        })
        .await;
    assert_eq!(video["state"], "processing", "{video}");
    let player = join_live("hls", format!("{}{master}", app.base));
    let ready = app.wait_settled(&id, PATIENCE).await;
    let ready_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert_eq!(
        ready["state"],
        "ready",
        "{ready}\n{}",
        runner.process.log_text()
    );
    let report = live_report(player).await;
    assert_eq!(report["liveAtStart"], true, "{report}");
    let started = report["startedAtMs"].as_u64().expect("playback started") as u128;
    assert!(
        started < ready_at,
        "hls.js started after the job was ready: {report}"
    );

    assert_eq!(runner.completions(&id), 1, "{}", runner.process.log_text());
    assert_published_once(&app.data_dir.path().join("objects"), &id);
    let listed = runners::runners(app.api()).await;
    let row = listed.iter().find(|r| r["id"] == holder.as_str()).unwrap();
    assert_eq!(row["current_jobs"], serde_json::json!([]), "{row}");
    assert!(row["last_seen_at"].is_string(), "{row}");
}

/// Sends `message` on a crafted session.
async fn send(outbox: &mpsc::Sender<RunnerMessage>, message: runner_message::Message) {
    outbox
        .send(RunnerMessage {
            message: Some(message),
        })
        .await
        .unwrap();
}

/// The next server message of a crafted session, skipping none.
async fn next(inbound: &mut tonic::Streaming<ServerMessage>) -> server_message::Message {
    tokio::time::timeout(Duration::from_secs(60), inbound.message())
        .await
        .expect("a server message in time")
        .expect("the session is up")
        .expect("the session goes on")
        .message
        .unwrap()
}

/// Opens a crafted session announcing `capacity`; its outbox and inbound stream.
async fn session(
    client: &mut runners::Client,
    capacity: u32,
) -> Result<(mpsc::Sender<RunnerMessage>, tonic::Streaming<ServerMessage>), tonic::Status> {
    let (outbox, rx) = mpsc::channel(16);
    send(
        &outbox,
        runner_message::Message::Hello(Hello {
            capacity,
            codecs: vec!["h264".into()],
            version: "crafted".into(),
        }),
    )
    .await;
    let outgoing =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let inbound = client.session(outgoing).await?.into_inner();
    Ok((outbox, inbound))
}

/// A write of `data` to `key` announcing `size` and `sha256`.
async fn write(
    client: &mut runners::Client,
    key: &str,
    data: &[u8],
    size: u64,
    sha256: String,
) -> Result<(), tonic::Status> {
    let messages = vec![
        write_object_message::Message::Header(WriteObjectHeader {
            key: key.into(),
            size,
        }),
        write_object_message::Message::Data(data.to_vec()),
        write_object_message::Message::Sha256(sha256),
    ];
    let body = futures_util::stream::iter(
        messages
            .into_iter()
            .map(|m| WriteObjectMessage { message: Some(m) }),
    );
    client.write_object(body).await.map(|_| ())
}

async fn read(client: &mut runners::Client, key: &str) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = client
        .read_object(ReadObjectRequest { key: key.into() })
        .await?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend_from_slice(&chunk.data);
    }
    Ok(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_credential_opens_only_its_own_jobs_objects_and_bad_secrets_are_unauthenticated() {
    let app = serve_for_runners(&[]).await;
    let grpc = app.grpc.clone().unwrap();
    let channel = channel(&grpc).await;
    let (token_id, token) = registration_token(app.api(), None).await;

    // Registration: a good token registers (as often as asked); a wrong,
    // expired or revoked one is UNAUTHENTICATED.
    let register = |secret: &str| {
        let mut c = client(&channel, secret);
        async move {
            c.register(RegisterRequest {
                name: "crafted".into(),
                version: "1".into(),
            })
            .await
            .map(|r| r.into_inner())
        }
    };
    let registered = register(&token).await.unwrap();
    assert!(registered.credential.starts_with("gfr_"));
    assert!(
        register(&token).await.is_ok(),
        "a token registers several runners"
    );
    assert_eq!(
        register("gfrt_wrong").await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let (_, short_lived) = registration_token(app.api(), Some(1)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        register(&short_lived).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let response = app
        .client
        .delete(format!(
            "{}/api/v1/runners/registration-tokens/{token_id}",
            app.base
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        register(&token).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // A wrong credential opens no session and reads nothing.
    let mut stranger = client(&channel, "gfr_not-a-credential");
    assert_eq!(
        session(&mut stranger, 1).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        read(&mut stranger, "masters/x").await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Two uploads; the crafted runner, capacity 1, is assigned one of them.
    let media = tempfile::tempdir().unwrap();
    let first = clip(media.path(), "a.mp4", "320x240", 2, true);
    let (_, a) = app.upload("A", &first).await;
    let (_, b) = app.upload("B", &first).await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    );
    let mut runner = client(&channel, &registered.credential);
    let (outbox, mut inbound) = session(&mut runner, 1).await.unwrap();
    assert!(matches!(
        next(&mut inbound).await,
        server_message::Message::Welcome(_)
    ));
    let Assignment {
        video_id,
        version,
        live_version,
        attempt,
        job_id,
        ..
    } = match next(&mut inbound).await {
        server_message::Message::Assignment(assignment) => assignment,
        other => panic!("expected an assignment, got {other:?}"),
    };
    assert_eq!(attempt, 1);
    let other = if video_id == a { &b } else { &a };
    assert!(video_id == a || video_id == b);

    // Reads: its job's master and playback record only.
    let master = read(&mut runner, &format!("masters/{video_id}"))
        .await
        .unwrap();
    assert_eq!(master, std::fs::read(&first).unwrap());
    assert_eq!(
        read(&mut runner, &format!("masters/{other}"))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        read(&mut runner, "revocations/playback.json")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // Writes: only inside the attempt's two version folders, only whole.
    let data = b"not really a segment";
    let digest = hex::encode(Sha256::digest(data));
    let n = data.len() as u64;
    let own = format!("media/{video_id}/{version}/720p.mp4");
    let live = format!("media/{video_id}/{live_version}/720p_00001.mp4");
    assert!(write(&mut runner, &own, data, n, digest.clone())
        .await
        .is_ok());
    assert!(write(&mut runner, &live, data, n, digest.clone())
        .await
        .is_ok());
    let objects = app.data_dir.path().join("objects");
    assert_eq!(std::fs::read(objects.join(&own)).unwrap(), data);
    for outside in [
        format!("media/{video_id}/playback.json"),
        format!("media/{video_id}/{}/720p.mp4", "0".repeat(32)),
        format!("media/{other}/{version}/720p.mp4"),
        format!("masters/{video_id}"),
        format!("media/{video_id}/{version}"),
    ] {
        let refused = write(&mut runner, &outside, data, n, digest.clone()).await;
        assert_eq!(
            refused.unwrap_err().code(),
            Code::PermissionDenied,
            "{outside}"
        );
        assert!(
            !objects.join(&outside).is_file() || outside.starts_with("masters/"),
            "{outside}"
        );
    }
    let torn = format!("media/{video_id}/{version}/torn.mp4");
    let wrong_digest = write(&mut runner, &torn, data, n, "0".repeat(64)).await;
    assert_eq!(wrong_digest.unwrap_err().code(), Code::DataLoss);
    let short = write(&mut runner, &torn, data, n + 1, digest.clone()).await;
    assert_eq!(short.unwrap_err().code(), Code::InvalidArgument);
    assert!(
        !objects.join(&torn).exists(),
        "nothing half-written is stored"
    );
    let escape = write(
        &mut runner,
        &format!("media/{video_id}/{version}/../x"),
        data,
        n,
        digest,
    )
    .await;
    assert_eq!(escape.unwrap_err().code(), Code::InvalidArgument);

    // Deletes: the attempt's own version folders only.
    for prefix in [
        format!("media/{video_id}/"),
        format!("media/{other}/{version}/"),
        String::new(),
    ] {
        let refused = runner
            .delete_prefix(DeletePrefixRequest {
                prefix: prefix.clone(),
            })
            .await;
        assert_eq!(
            refused.unwrap_err().code(),
            Code::PermissionDenied,
            "{prefix:?}"
        );
    }
    let own_prefix = format!("media/{video_id}/{live_version}/");
    runner
        .delete_prefix(DeletePrefixRequest { prefix: own_prefix })
        .await
        .unwrap();
    assert!(!objects.join(&live).exists());

    // Server reflection v1 answers too (grpcio covers v1alpha).
    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
            channel.clone(),
        );
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let mut answers = reflection
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let listed = format!("{answer:?}");
    assert!(
        listed.contains("goflix.runner.v1.RunnerService"),
        "{listed}"
    );

    // Revoked mid-job: the session closes with UNAUTHENTICATED at once, the
    // credential opens nothing more, and the job goes back to the queue: a
    // second runner gets it as its next attempt.
    let runner_id = runners::runners(app.api())
        .await
        .into_iter()
        .find(|r| {
            r["current_jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["job_id"] == job_id.as_str())
        })
        .expect("the crafted runner is listed with its job")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    revoke(app.api(), &runner_id).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match inbound.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => break Code::Ok,
                Err(status) => break status.code(),
            }
        }
    })
    .await
    .expect("the session closes at once");
    assert_eq!(closed, Code::Unauthenticated);
    drop(outbox);
    assert_eq!(
        session(&mut runner, 1).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        read(&mut runner, &format!("masters/{video_id}"))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let second = register_with_new_token(&app, &channel).await;
    let mut second = client(&channel, &second);
    let (_outbox, mut inbound) = session(&mut second, 2).await.unwrap();
    assert!(matches!(
        next(&mut inbound).await,
        server_message::Message::Welcome(_)
    ));
    let mut seen = Vec::new();
    for _ in 0..2 {
        match next(&mut inbound).await {
            server_message::Message::Assignment(assignment) => seen.push(assignment),
            other => panic!("expected an assignment, got {other:?}"),
        }
    }
    let again = seen
        .iter()
        .find(|s| s.job_id == job_id)
        .expect("the revoked runner's job came back");
    assert_eq!(again.attempt, 2, "{again:?}");
    assert_ne!(
        again.version, version,
        "each attempt writes its own version"
    );
}

async fn register_with_new_token(app: &TestApp, channel: &tonic::transport::Channel) -> String {
    let (_, token) = registration_token(app.api(), None).await;
    client(channel, &token)
        .register(RegisterRequest {
            name: "second".into(),
            version: "1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .credential
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_cancel_reaches_a_runners_job() {
    let app = serve_for_runners(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, token) = registration_token(app.api(), None).await;
    let server = format!("http://{}", app.grpc.as_deref().unwrap());
    let runner = RunnerProcess::start(dir.path(), "canceller", &server, &token, &[]).await;
    let source = noisy_clip(dir.path(), "long.mp4", 60, 30);
    let (_, created) = app.upload("Cancel me", &source).await;
    let id = created["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, ("progressing", Duration::from_secs(120)), |v| {
        v["state"] == "processing" && v["progress"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;
    let response = app
        .client
        .post(format!("{}/api/v1/videos/{id}/cancel", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let started = Instant::now();
    while !runner
        .process
        .log_text()
        .contains("cancelling the job on request")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            runner.process.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The runner settles it and is free again: a new upload completes on it.
    let short = clip(dir.path(), "short.mp4", "320x240", 2, true);
    let (_, next) = app.upload("After", &short).await;
    let next = next["id"].as_str().unwrap().to_owned();
    let ready = app.wait_settled(&next, PATIENCE).await;
    assert_eq!(
        ready["state"],
        "ready",
        "{ready}\n{}",
        runner.process.log_text()
    );
    let video = app.video(&id).await;
    assert_eq!(video["error"]["code"], "cancelled", "{video}");
    assert_eq!(runner.completions(&id), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_rabbitmq_a_killed_or_revoked_runners_job_completes_on_another_once() {
    let mut cluster = Cluster::new().await;
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, token) = registration_token(cluster.api(), None).await;
    let server = cluster.grpc_server();
    let mut first = RunnerProcess::start(dir.path(), "first", &server, &token, &[]).await;
    let source = noisy_clip(dir.path(), "source.mp4", 20, 30);

    // SIGKILL the runner mid-job; a second one, started after, takes it.
    let id = cluster.upload("Killed", &source).await;
    runner_holding(cluster.api(), &id, Duration::from_secs(60)).await;
    cluster
        .api()
        .wait_for(
            &id,
            ("progressing", Duration::from_secs(120)),
            |v| v["progress"].as_f64().unwrap_or(0.0) > 0.0,
            || cluster.logs(),
        )
        .await;
    first.process.kill();
    let second = RunnerProcess::start(dir.path(), "second", &server, &token, &[]).await;
    let ready = cluster.wait_settled(&id, PATIENCE).await;
    assert_eq!(
        ready["state"],
        "ready",
        "{ready}\n{}\n{}\n{}",
        first.process.log_text(),
        second.process.log_text(),
        cluster.logs()
    );
    assert_eq!(second.completions(&id), 1);
    cluster.assert_outputs_valid(&id);

    // Revoke the runner mid-job: it stops, the job goes to the other one.
    let third = RunnerProcess::start(dir.path(), "third", &server, &token, &[]).await;
    let id = cluster.upload("Revoked", &source).await;
    let holder = runner_holding(cluster.api(), &id, Duration::from_secs(60)).await;
    let listed = runners::runners(cluster.api()).await;
    let holder_name = listed.iter().find(|r| r["id"] == holder.as_str()).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut running = vec![second, third];
    let index = running.iter().position(|r| r.name == holder_name).unwrap();
    let mut revoked = running.remove(index);
    let other = running.pop().unwrap();
    revoke(cluster.api(), &holder).await;
    let status = revoked.wait_exit(Duration::from_secs(30));
    assert!(
        !status.success(),
        "a revoked runner exits with an error: {}",
        revoked.process.log_text()
    );
    let ready = cluster.wait_settled(&id, PATIENCE).await;
    assert_eq!(
        ready["state"],
        "ready",
        "{ready}\n{}",
        other.process.log_text()
    );
    assert_eq!(other.completions(&id), 1);
    assert_eq!(revoked.completions(&id), 0);
    cluster.assert_outputs_valid(&id);
}
