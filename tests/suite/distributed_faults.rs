//! Fault tests of the distributed layout on real `goflix` processes,
//! RabbitMQ and PostgreSQL (see `crate::common::cluster`): a worker killed
//! mid-job, two workers draining a backlog, force-closed AMQP connections,
//! a worker losing its channel mid-encode, a poison job, a job whose worker
//! dies on every delivery (also when that worker is `goflix serve` on
//! RabbitMQ), an object-storage outage (a private s3s-fs stopped and
//! restarted), and a control-api killed before it published its job. They
//! need `GOFLIX_TEST_AMQP_URL` and `GOFLIX_TEST_POSTGRES_URL` (and s3s-fs
//! on the `PATH`) and fail without them.

use crate::common::clip;
use crate::common::cluster::{goflix, read_log, Cluster, S3Server};
use goflix_shared::queue::MAX_ATTEMPTS;
use std::time::{Duration, Instant};

const SETTLE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_is_redelivered_to_another_worker() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "long.mp4", "640x360", 12, true);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let first = cluster.start_worker().await;
    let id = cluster.upload("killed", &source).await;
    let started = Instant::now();
    loop {
        let video = cluster.video(&id).await;
        if video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            break;
        }
        assert_ne!(
            video["state"], "ready",
            "finished before it could be killed"
        );
        assert!(started.elapsed() < SETTLE, "{video}\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = cluster.start_worker().await;
    cluster.workers[first].kill();
    let killed = Instant::now();
    while !cluster.workers[second].log_text().contains("job started") {
        assert!(
            killed.elapsed() < SETTLE,
            "never redelivered\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "redelivered to the other worker {:.3} s after kill -9",
        killed.elapsed().as_secs_f64()
    );
    let video = cluster.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert!(cluster.workers[second].log_text().contains("attempt=2"));
    cluster.assert_outputs_valid(&id);
    assert_eq!(cluster.completions(&id), 1);
}

/// Waits until the video is being encoded (some progress reported).
async fn wait_encoding(cluster: &Cluster, id: &str) {
    let started = Instant::now();
    loop {
        let video = cluster.video(id).await;
        if video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            return;
        }
        assert_ne!(video["state"], "ready", "finished too early");
        assert!(started.elapsed() < SETTLE, "{video}\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the process's log holds `needle` at least `times` times.
async fn wait_logged(cluster: &Cluster, log: impl Fn() -> String, needle: &str, times: usize) {
    let started = Instant::now();
    while log().matches(needle).count() < times {
        assert!(
            started.elapsed() < SETTLE,
            "{needle:?} not logged {times} times\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_drain_eight_jobs_each_completed_once() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "ten.mp4", "640x360", 10, true);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    cluster.start_worker().await;
    cluster.start_worker().await;
    let mut ids = Vec::new();
    let started = Instant::now();
    for n in 0..8 {
        ids.push(cluster.upload(&format!("batch {n}"), &source).await);
    }
    for id in &ids {
        let video = cluster.wait_settled(id, SETTLE).await;
        assert_eq!(video["state"], "ready", "{video}");
    }
    eprintln!(
        "2 workers: {:.1} jobs/minute for a 10 s 640x360 clip",
        ids.len() as f64 * 60.0 / started.elapsed().as_secs_f64()
    );
    for id in &ids {
        assert_eq!(cluster.versions(id).len(), 1, "{id}");
        assert_eq!(cluster.completions(id), 1, "{id}\n{}", cluster.logs());
    }
    for worker in &cluster.workers {
        assert!(
            worker.log_text().contains("job done"),
            "both workers took jobs\n{}",
            cluster.logs()
        );
    }
    cluster.assert_outputs_valid(&ids[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_connection_closes_lose_no_job() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "small.mp4", "320x240", 4, true);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    cluster.start_worker().await;
    cluster.start_worker().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(cluster.upload(&format!("before {n}"), &source).await);
    }
    // Wait until jobs flow, then cut every connection of the cluster.
    let started = Instant::now();
    while cluster.video(&ids[0]).await["state"] == "queued" {
        assert!(started.elapsed() < SETTLE, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut names = vec![cluster
        .control
        .as_ref()
        .unwrap()
        .connection_name("control-api")];
    names.extend(
        cluster
            .workers
            .iter()
            .map(|w| w.connection_name("transcoder")),
    );
    let processes = || cluster.control.iter().chain(&cluster.workers);
    let connects = |log: &str| log.matches("connected to RabbitMQ").count();
    let before: Vec<usize> = processes().map(|p| connects(&p.log_text())).collect();
    let closed = cluster.close_connections(&names);
    assert_eq!(
        closed,
        names.len(),
        "closed {closed} connections of {names:?}"
    );
    // Published while the connections are down or coming back.
    ids.push(cluster.upload("during the outage", &source).await);
    for id in &ids {
        let video = cluster.wait_settled(id, SETTLE).await;
        assert_eq!(video["state"], "ready", "{video}\n{}", cluster.logs());
    }
    // Every process connected again, not just one of them.
    for (process, before) in processes().zip(before) {
        wait_logged(
            &cluster,
            || process.log_text(),
            "connected to RabbitMQ",
            before + 1,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_job_is_dead_lettered_without_blocking_the_queue() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "small.mp4", "320x240", 4, true);
    let poison = cluster.dir.path().join("poison.mp4");
    let mut bytes = std::fs::read(&source).unwrap();
    bytes.truncate(bytes.len() / 3);
    bytes.splice(0..0, b"\x00\x00\x00\x18ftypgarbage".iter().copied());
    std::fs::write(&poison, bytes).unwrap();
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let bad = cluster.upload("poison", &poison).await;
    let good = [
        cluster.upload("after 1", &source).await,
        cluster.upload("after 2", &source).await,
    ];
    cluster.start_worker().await;
    let video = cluster.wait_settled(&bad, SETTLE).await;
    assert_eq!(video["state"], "failed", "{video}");
    // The worker's own diagnosis wins over the control plane's fallback.
    assert_eq!(video["error"]["code"], "invalid_media", "{video}");
    for id in &good {
        let video = cluster.wait_settled(id, SETTLE).await;
        assert_eq!(video["state"], "ready", "{video}");
    }
    // The dead letter was recorded by the control plane and taken off the queue.
    let started = Instant::now();
    while cluster.job_state(&bad).await != "dead" {
        assert!(started.elapsed() < SETTLE, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cluster.dead_letters().await, 0);
    assert_eq!(cluster.job_state(&good[0]).await, "published");
    assert_eq!(cluster.video(&bad).await["error"]["code"], "invalid_media");
    assert!(cluster.versions(&bad).is_empty());
}

/// Waits until the video of a job that used up its attempts has failed:
/// RabbitMQ dead-lettered the job at its delivery limit (RabbitMQ 4; the
/// control plane then fails the video), or handed out the attempt past the
/// limit, which the worker refused (RabbitMQ 3).
async fn assert_fails_past_its_attempts(cluster: &Cluster, id: &str) {
    let video = cluster.wait_settled(id, SETTLE).await;
    assert_eq!(video["state"], "failed", "{video}");
    let code = video["error"]["code"].as_str().unwrap_or_default();
    assert!(
        ["job_dead_lettered", "retries_exhausted"].contains(&code),
        "{video}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_dies_on_every_delivery_ends_failed() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "long.mp4", "640x360", 12, true);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let id = cluster.upload("crashes its worker", &source).await;
    // As if the master crashed the process on every delivery.
    for attempt in 1..=MAX_ATTEMPTS {
        let worker = cluster.start_worker().await;
        let log = cluster.workers[worker].log.clone();
        wait_logged(&cluster, || read_log(&log), "job started", 1).await;
        assert!(
            cluster.workers[worker]
                .log_text()
                .contains(&format!("attempt={attempt}")),
            "{}",
            cluster.logs()
        );
        cluster.workers[worker].kill();
    }
    let survivor = cluster.start_worker().await;
    assert_fails_past_its_attempts(&cluster, &id).await;
    assert!(
        !cluster.workers[survivor].log_text().contains("job started"),
        "the job ran more than {MAX_ATTEMPTS} times\n{}",
        cluster.logs()
    );
    // The queue behind it still flows.
    let next = cluster.upload("after the crashes", &source).await;
    let video = cluster.wait_settled(&next, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(cluster.job_state(&id).await, "dead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goflix_serve_on_rabbitmq_fails_a_job_dead_lettered_after_it_crashed_on_every_delivery() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "long.mp4", "640x360", 12, true);
    cluster.start_serve().await;
    let id = cluster.upload("crashes goflix serve", &source).await;
    // As if the master crashed the whole process on every delivery.
    for attempt in 1..=MAX_ATTEMPTS {
        let log = cluster.control.as_ref().unwrap().log.clone();
        let log_text = || read_log(&log);
        wait_logged(&cluster, log_text, "job started", 1).await;
        assert!(
            log_text().contains(&format!("attempt={attempt}")),
            "{}",
            cluster.logs()
        );
        cluster.control.as_mut().unwrap().kill();
        cluster.start_serve().await;
    }
    // Whichever way the job ended (see `assert_fails_past_its_attempts`),
    // only the dead-letter follower records it dead: on RabbitMQ 4 it also
    // is what fails the video.
    assert_fails_past_its_attempts(&cluster, &id).await;
    let started = Instant::now();
    while cluster.job_state(&id).await != "dead" {
        assert!(
            started.elapsed() < SETTLE,
            "the dead letter was never recorded\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cluster.dead_letters().await, 0, "taken off the queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_loses_its_channel_cancels_its_encode() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "long.mp4", "640x360", 30, true);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let worker = cluster.start_worker().await;
    let name = cluster.workers[worker].connection_name("transcoder");
    let pids = cluster.connection_pids(&[name]);
    assert_eq!(pids.len(), 1, "{pids:?}");
    let id = cluster.upload("channel lost", &source).await;
    wait_encoding(&cluster, &id).await;
    // What RabbitMQ does to a delivery held past its consumer timeout.
    cluster.close_connection_pids(&pids);
    let video = cluster.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}");
    let log = cluster.workers[worker].log_text();
    assert!(log.contains("job cancelled"), "{log}");
    assert!(log.contains("attempt=2"), "{log}");
    assert_eq!(cluster.completions(&id), 1);
    cluster.assert_outputs_valid(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_outage_is_waited_out_without_burning_attempts() {
    let mut cluster = Cluster::new().await;
    let mut s3 = S3Server::start(cluster.dir.path());
    cluster.use_s3(&s3);
    let source = clip(cluster.dir.path(), "long.mp4", "640x360", 12, true);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let origin = cluster.start_origin().await;
    let worker = cluster.start_worker().await;
    let id = cluster.upload("outage", &source).await;
    wait_encoding(&cluster, &id).await;
    s3.stop();
    let response = cluster
        .client
        .get(format!("{origin}/v/{id}/master.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    // The worker waits for storage longer than its attempts would last.
    let log = cluster.workers[worker].log.clone();
    wait_logged(
        &cluster,
        || read_log(&log),
        "object storage unavailable",
        MAX_ATTEMPTS as usize + 1,
    )
    .await;
    assert_eq!(cluster.video(&id).await["state"], "processing");
    s3.restart();
    let restarted = Instant::now();
    let video = cluster.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}");
    eprintln!(
        "job completed {:.3} s after object storage came back",
        restarted.elapsed().as_secs_f64()
    );
    let log = cluster.workers[worker].log_text();
    assert!(!log.contains("attempt=2"), "no attempt was spent\n{log}");
    assert_eq!(cluster.completions(&id), 1);
    assert_eq!(cluster.job_state(&id).await, "published");
    cluster.assert_outputs_valid(&id);
    let playlist = cluster
        .client
        .get(format!("{origin}/v/{id}/master.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(playlist.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_accepted_before_a_crash_is_published_after_restart() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "small.mp4", "320x240", 4, true);
    cluster.start_worker().await;
    // A control-api whose broker is unreachable commits uploads it cannot publish…
    let down = format!(
        "amqp://guest:guest@127.0.0.1:1/%2f?prefix={}",
        cluster.broker.prefix()
    );
    cluster.start_control(&down).await;
    let id = cluster.upload("stranded", &source).await;
    // The relay tried to publish it and failed: the job stays in the outbox.
    let control_log = cluster.control.as_ref().unwrap().log.clone();
    wait_logged(
        &cluster,
        || read_log(&control_log),
        "outbox relay failed",
        1,
    )
    .await;
    assert_eq!(cluster.video(&id).await["state"], "queued");
    assert_eq!(cluster.job_state(&id).await, "queued", "not published");
    assert!(
        !cluster.workers[0].log_text().contains("job started"),
        "{}",
        cluster.logs()
    );
    // …and dies without a chance to clean up.
    cluster.control.as_mut().unwrap().kill();
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let video = cluster.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(cluster.completions(&id), 1);
}

#[tokio::test]
async fn the_separate_roles_refuse_the_database_queue() {
    let output = goflix()
        .args(["transcoder", "--concurrency", "2"])
        .env("GOFLIX_QUEUE", "database")
        .env("GOFLIX_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("GOFLIX_QUEUE=amqp://"), "{message}");
}

#[tokio::test]
async fn goflix_migrate_runs_on_postgres() {
    let cluster = Cluster::new().await;
    let url = cluster.database.url();
    for _ in 0..2 {
        let output = goflix()
            .arg("migrate")
            .env("GOFLIX_DATABASE_URL", &url)
            .env("GOFLIX_DATA_DIR", cluster.dir.path().join("migrate"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
