//! `/metrics` after an end-to-end run: `goflix serve` (in process, embedded
//! backends) and the separate control-api, transcoder and origin processes
//! (RabbitMQ, PostgreSQL, Redis) expose request, latency-histogram, bytes,
//! cache, storage, queue and job series, and hostile paths do not grow
//! the label sets.

mod common;

use common::cluster::{goflix, Cluster, Process};
use common::{clip, spawn_app};
use goflix_testkit::free_port;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Every sample of an exposition: `name{labels}` → value.
type Samples = BTreeMap<String, f64>;

fn parse(text: &str) -> Samples {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"));
            (series.to_owned(), value)
        })
        .collect()
}

async fn scrape(client: &reqwest::Client, base: &str) -> Samples {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    parse(&response.text().await.unwrap())
}

/// The value of one exact series, failing with the whole exposition.
fn value(samples: &Samples, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no series {series} in\n{}", dump(samples)))
}

/// Sum of the series of `name` whose labels include every one of `labels`.
fn sum_of(samples: &Samples, name: &str, labels: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| {
            (k.as_str() == name || k.starts_with(&format!("{name}{{")))
                && labels.iter().all(|l| k.contains(l))
        })
        .map(|(_, v)| v)
        .sum()
}

fn dump(samples: &Samples) -> String {
    samples.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
}

/// Every latency histogram has `+Inf` = `_count` and a `_sum`.
fn assert_histograms_complete(samples: &Samples) {
    for (series, count) in samples.iter().filter(|(k, _)| k.contains("_count")) {
        let (name, labels) = series.split_once("_count").unwrap();
        let inf = if labels.is_empty() {
            format!("{name}_bucket{{le=\"+Inf\"}}")
        } else {
            format!(
                "{name}_bucket{}{}le=\"+Inf\"}}",
                &labels[..labels.len() - 1],
                ","
            )
        };
        assert_eq!(value(samples, &inf), *count, "{series}");
        value(samples, &format!("{name}_sum{labels}"));
    }
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// One hostile request of shape `n % 6`, with random contents.
async fn hostile_request(client: &reqwest::Client, base: &str, n: usize) {
    let path = match n % 6 {
        0 => format!("/v/{}/master.m3u8", uuid::Uuid::new_v4()),
        1 => format!(
            "/v/{}/{}/{}.mp4",
            uuid::Uuid::new_v4(),
            random_hex(),
            random_hex()
        ),
        2 => format!("/{}", random_hex()),
        3 => format!("/api/v1/{}/{}", random_hex(), random_hex()),
        4 => format!("/v/..%2F..%2Fetc%2F{}", random_hex()),
        _ => format!("/{}?token={}", random_hex(), random_hex()),
    };
    let method = if n % 4 == 3 {
        reqwest::Method::from_bytes(b"PROPFIND").unwrap()
    } else {
        reqwest::Method::GET
    };
    client
        .request(method, format!("{base}{path}"))
        .send()
        .await
        .unwrap();
}

/// The series (not values) of `/metrics` stay the same over 200 hostile requests.
async fn assert_labels_bounded(client: &reqwest::Client, base: &str) {
    // Each shape once per method, so every bounded label value exists.
    for n in 0..24 {
        hostile_request(client, base, n).await;
    }
    scrape(client, base).await;
    let before: BTreeSet<String> = scrape(client, base).await.into_keys().collect();
    for n in 0..200 {
        hostile_request(client, base, n).await;
    }
    let after: BTreeSet<String> = scrape(client, base).await.into_keys().collect();
    let grown: Vec<_> = after.difference(&before).collect();
    assert!(
        grown.is_empty(),
        "new series after hostile requests: {grown:?}"
    );
    assert!(
        !after
            .iter()
            .any(|k| k.contains("token=") || k.contains("etc")),
        "raw paths leaked into labels"
    );
}

/// Plays a bit of `id`: the master three times, its first media playlist,
/// and one byte range of that playlist's media file.
async fn play(client: &reqwest::Client, base: &str, id: &str) {
    let master_url = format!("{base}/v/{id}/master.m3u8");
    for _ in 0..2 {
        let master = client.get(&master_url).send().await.unwrap();
        assert_eq!(master.status(), 200);
        master.bytes().await.unwrap();
    }
    let master = client
        .get(&master_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let playlist = master
        .lines()
        .find(|l| !l.starts_with('#') && l.ends_with(".m3u8"))
        .expect("a media playlist")
        .to_owned();
    let media = client
        .get(format!("{base}/v/{id}/{playlist}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let file = media
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|l| l.split('"').next())
        .expect("an init segment")
        .to_owned();
    let dir = playlist.rsplit_once('/').map_or("", |(d, _)| d);
    let file = if dir.is_empty() {
        file
    } else {
        format!("{dir}/{file}")
    };
    let range = client
        .get(format!("{base}/v/{id}/{file}"))
        .header("Range", "bytes=0-999")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206, "{file}");
    assert_eq!(range.bytes().await.unwrap().len(), 1000);
}

const FILE_ROUTE: &str = "route=\"/v/{video_id}/{version}/{file}\"";
const MASTER_ROUTE: &str = "route=\"/v/{video_id}/master.m3u8\"";

/// What the origin part of a role exports after [`play`].
fn assert_origin_series(samples: &Samples) {
    assert!(
        sum_of(
            samples,
            "goflix_http_requests_total",
            &[MASTER_ROUTE, "method=\"GET\"", "status=\"2xx\""]
        ) >= 3.0,
        "{}",
        dump(samples)
    );
    assert!(sum_of(samples, "goflix_http_response_bytes_total", &[FILE_ROUTE]) >= 1000.0);
    assert!(
        sum_of(
            samples,
            "goflix_http_requests_total",
            &[FILE_ROUTE, "status=\"2xx\""]
        ) >= 1.0
    );
    assert!(
        sum_of(
            samples,
            "goflix_http_request_duration_seconds_count",
            &[MASTER_ROUTE]
        ) >= 3.0
    );
    assert!(
        value(
            samples,
            "goflix_cache_requests_total{tier=\"memory\",result=\"hit\"}"
        ) >= 1.0
    );
    assert!(
        value(
            samples,
            "goflix_cache_requests_total{tier=\"memory\",result=\"miss\"}"
        ) >= 1.0
    );
    assert_eq!(value(samples, "goflix_cache_degraded_total"), 0.0);
    assert!(
        sum_of(
            samples,
            "goflix_storage_operation_duration_seconds_count",
            &["backend=\"fs\""]
        ) >= 1.0
    );
    assert_histograms_complete(samples);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exposes_every_series_with_bounded_labels() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "m.mp4", "320x240", 4, true);
    let (status, created) = app.upload("metrics", &source).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let junk = media.path().join("junk.mp4");
    std::fs::write(&junk, b"this is not a video, whatever the name says").unwrap();
    let (status, rejected) = app.upload("junk", &junk).await;
    assert_eq!(status, 202, "{rejected}");
    let video = app.wait_settled(&id, Duration::from_secs(180)).await;
    assert_eq!(video["state"], "ready", "{video}");
    let failed = app
        .wait_settled(rejected["id"].as_str().unwrap(), Duration::from_secs(60))
        .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let code = failed["error"]["code"].as_str().unwrap().to_owned();
    play(&app.client, &app.base, &id).await;

    let samples = scrape(&app.client, &app.base).await;
    assert_origin_series(&samples);
    assert!(
        sum_of(
            &samples,
            "goflix_http_requests_total",
            &[
                "route=\"/api/v1/videos\"",
                "method=\"POST\"",
                "status=\"2xx\""
            ]
        ) >= 2.0
    );
    for op in ["put_stream", "download_to", "put_file", "put_bytes"] {
        assert!(
            sum_of(
                &samples,
                "goflix_storage_operation_duration_seconds_count",
                &["backend=\"fs\"", &format!("operation=\"{op}\"")]
            ) >= 1.0,
            "no storage timing of {op}"
        );
    }
    assert_eq!(
        value(&samples, "goflix_queue_depth{queue=\"goflix.transcode\"}"),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "goflix_queue_depth{queue=\"goflix.transcode.dead\"}"
        ),
        1.0
    );
    value(
        &samples,
        "goflix_queue_consumers{queue=\"goflix.transcode\"}",
    );
    assert_eq!(
        value(
            &samples,
            "goflix_job_duration_seconds_count{outcome=\"ready\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "goflix_job_duration_seconds_count{outcome=\"failed\"}"
        ),
        1.0
    );
    assert_eq!(value(&samples, "goflix_transcode_speed_ratio_count"), 1.0);
    assert!(value(&samples, "goflix_transcode_speed_ratio_sum") > 0.0);
    assert_eq!(
        value(
            &samples,
            &format!("goflix_jobs_failed_total{{code=\"{code}\"}}")
        ),
        1.0
    );
    assert_eq!(value(&samples, "goflix_jobs_in_flight"), 0.0);

    assert_labels_bounded(&app.client, &app.base).await;
}

/// Starts `goflix {args}` on the cluster's storage; returns it and its base URL once ready.
async fn start_role(cluster: &Cluster, args: &[&str], env: &[(&str, String)]) -> (Process, String) {
    let port = free_port();
    let log = cluster.dir.path().join(format!("{}.log", args[0]));
    let child = goflix()
        .args(args)
        .env("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "GOFLIX_STORAGE",
            format!("file://{}", cluster.objects().display()),
        )
        .env("GOFLIX_DATA_DIR", cluster.dir.path().join(args[0]))
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("goflix binary");
    let process = Process { child, log };
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !cluster
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "goflix {args:?} did not become ready: {}",
            process.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (process, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_distributed_role_exposes_its_series() {
    let redis = goflix_testkit::var("GOFLIX_TEST_REDIS_URL");
    let mut cluster = Cluster::new().await;
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let (mut worker, worker_base) = start_role(
        &cluster,
        &["transcoder", "--concurrency", "1"],
        &[("GOFLIX_QUEUE", cluster.amqp_url.clone())],
    )
    .await;
    let public_key = cluster.dir.path().join("control-api").join("token.pub");
    let (mut origin, origin_base) = start_role(
        &cluster,
        &["origin"],
        &[
            ("GOFLIX_CACHE", redis),
            (
                "GOFLIX_TOKEN_PUBLIC_KEY_FILE",
                public_key.display().to_string(),
            ),
        ],
    )
    .await;

    let source = clip(cluster.dir.path(), "m.mp4", "320x240", 4, true);
    let id = cluster.upload("metrics", &source).await;
    let video = cluster.wait_settled(&id, Duration::from_secs(180)).await;
    assert_eq!(video["state"], "ready", "{video}");
    play(&cluster.client, &origin_base, &id).await;

    let control = scrape(&cluster.client, &cluster.base).await;
    assert!(
        sum_of(
            &control,
            "goflix_http_requests_total",
            &[
                "route=\"/api/v1/videos\"",
                "method=\"POST\"",
                "status=\"2xx\""
            ]
        ) >= 1.0,
        "{}",
        dump(&control)
    );
    assert!(
        sum_of(
            &control,
            "goflix_storage_operation_duration_seconds_count",
            &["operation=\"put_stream\""]
        ) >= 1.0
    );
    assert_eq!(
        value(&control, "goflix_queue_depth{queue=\"goflix.transcode\"}"),
        0.0
    );
    assert_eq!(
        value(
            &control,
            "goflix_queue_depth{queue=\"goflix.transcode.dead\"}"
        ),
        0.0
    );
    assert_eq!(
        value(
            &control,
            "goflix_queue_consumers{queue=\"goflix.transcode\"}"
        ),
        1.0
    );
    assert_histograms_complete(&control);

    let transcoder = scrape(&cluster.client, &worker_base).await;
    assert_eq!(
        value(
            &transcoder,
            "goflix_job_duration_seconds_count{outcome=\"ready\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&transcoder, "goflix_transcode_speed_ratio_count"),
        1.0
    );
    assert_eq!(value(&transcoder, "goflix_jobs_in_flight"), 0.0);
    for op in ["download_to", "put_file", "put_bytes"] {
        assert!(
            sum_of(
                &transcoder,
                "goflix_storage_operation_duration_seconds_count",
                &["backend=\"fs\"", &format!("operation=\"{op}\"")]
            ) >= 1.0,
            "no storage timing of {op}\n{}",
            dump(&transcoder)
        );
    }
    value(
        &transcoder,
        "goflix_queue_depth{queue=\"goflix.transcode\"}",
    );
    assert_histograms_complete(&transcoder);

    let served = scrape(&cluster.client, &origin_base).await;
    assert_origin_series(&served);
    assert!(
        value(
            &served,
            "goflix_cache_requests_total{tier=\"redis\",result=\"miss\"}"
        ) >= 1.0
    );
    assert!(
        !served.keys().any(|k| k.starts_with("goflix_job")),
        "the origin runs no jobs"
    );
    assert_labels_bounded(&cluster.client, &origin_base).await;

    worker.kill();
    origin.kill();
}
