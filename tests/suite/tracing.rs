//! OpenTelemetry export through the real binary: a small OTLP/HTTP receiver
//! in the test collects what the processes export (JSON encoding), and one
//! upload, followed to `ready`, must be one trace: the client's span → the
//! upload request → the transcode job → the control plane applying
//! `video.ready`. Spans are exported in a batch only at shutdown (a batch
//! delay of an hour), so the test also shows that SIGTERM flushes them.
//! Run on `goflix serve` (database queue, in-process bus) and on the
//! distributed roles over RabbitMQ.

use crate::common::cluster::{goflix, read_log, Cluster};
use crate::common::{clip, login, Api, ADMIN_EMAIL, ADMIN_PASSWORD};
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Spans wait in the batch until shutdown flushes them.
const BATCH_DELAY_MS: &str = "3600000";

/// The OTLP/HTTP receiver: every body POSTed to `/v1/traces`.
struct Receiver {
    endpoint: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start() -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let collected = web::Data::new(bodies.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(collected.clone())
                .app_data(web::PayloadConfig::new(64 << 20))
                .route("/v1/traces", web::post().to(collect))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let endpoint = format!("http://{}", server.addrs()[0]);
        tokio::spawn(server.run());
        Self { endpoint, bodies }
    }

    /// Every span received, with the `service.name` of its resource.
    fn spans(&self) -> Vec<Span> {
        let bodies = self.bodies.lock().unwrap();
        let mut spans = Vec::new();
        for body in bodies.iter() {
            for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                let service = attribute(&resource["resource"], "service.name");
                for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                    for span in scope["spans"].as_array().into_iter().flatten() {
                        spans.push(Span {
                            service: service.clone().unwrap_or_default(),
                            name: span["name"].as_str().unwrap_or_default().to_owned(),
                            trace_id: span["traceId"].as_str().unwrap_or_default().to_owned(),
                            span_id: span["spanId"].as_str().unwrap_or_default().to_owned(),
                            parent_id: span["parentSpanId"].as_str().unwrap_or_default().to_owned(),
                            raw: span.clone(),
                        });
                    }
                }
            }
        }
        spans
    }
}

async fn collect(bodies: web::Data<Arc<Mutex<Vec<Value>>>>, body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice(&body) {
        Ok(json) => {
            bodies.lock().unwrap().push(json);
            HttpResponse::Ok().json(serde_json::json!({}))
        }
        Err(e) => HttpResponse::BadRequest().body(format!("not OTLP JSON: {e}")),
    }
}

/// The string value of attribute `key` of an OTLP resource or span.
fn attribute(holder: &Value, key: &str) -> Option<String> {
    holder["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"]["stringValue"].as_str())
        .map(str::to_owned)
}

/// One exported span.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    raw: Value,
}

/// A `traceparent` of the test's own, as a client already tracing would send.
fn client_context() -> (String, String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    let traceparent = format!("00-{trace_id}-{span_id}-01");
    (traceparent, trace_id, span_id)
}

/// Uploads `file` with the `traceparent` header; returns the video id.
async fn upload(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    file: &Path,
    traceparent: &str,
) -> String {
    let form = reqwest::multipart::Form::new()
        .text("title", "traced")
        .part(
            "file",
            reqwest::multipart::Part::bytes(std::fs::read(file).unwrap()).file_name("m.mp4"),
        );
    let response = client
        .post(format!("{base}/api/v1/videos"))
        .bearer_auth(token)
        .header("traceparent", traceparent)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Polls the video until it is `ready` or `failed`; returns its state.
async fn wait_settled(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    let api = Api {
        client,
        base,
        token,
    };
    api.wait_settled(id, Duration::from_secs(180), String::new)
        .await
}

/// SIGTERM, then waits for the process to exit.
fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exited with {status}");
}

/// Checks that the upload of `video_id` is one trace from the client's span
/// to `video.ready`; `control` and `worker` are the expected service names.
fn assert_one_trace(
    spans: &[Span],
    client: (&str, &str),
    video_id: &str,
    control: &str,
    worker: &str,
) {
    let (trace_id, client_span) = client;
    let listing = || {
        spans
            .iter()
            .map(|s| {
                format!(
                    "{} {} {}/{} <- {}",
                    s.service, s.name, s.trace_id, s.span_id, s.parent_id
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let find = |name: &str, extra: &dyn Fn(&Span) -> bool| -> Span {
        let found: Vec<&Span> = spans
            .iter()
            .filter(|s| {
                s.name == name
                    && attribute(&s.raw, "video_id").as_deref() == Some(video_id)
                    && extra(s)
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one {name} span of video {video_id} expected:\n{}",
            listing()
        );
        found[0].clone()
    };
    let upload = find("upload", &|_| true);
    assert_eq!(upload.service, control);
    assert_eq!(
        upload.trace_id, trace_id,
        "the upload continues the client's trace"
    );
    assert_eq!(
        upload.parent_id, client_span,
        "the upload's parent is the client's span"
    );

    let job = find("job", &|_| true);
    assert_eq!(job.service, worker);
    assert_eq!(
        job.trace_id,
        trace_id,
        "the job is in the upload's trace:\n{}",
        listing()
    );
    assert_eq!(
        job.parent_id, upload.span_id,
        "the job's parent is the upload"
    );

    let ready = find("event", &|s| {
        attribute(&s.raw, "kind").as_deref() == Some("video.ready")
    });
    assert_eq!(ready.service, control);
    assert_eq!(
        ready.trace_id, trace_id,
        "video.ready is applied in the same trace"
    );
    assert_eq!(
        ready.parent_id, job.span_id,
        "video.ready was published by the job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_upload_to_ready_on_goflix_serve() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let port = goflix_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("serve.log");
    let mut serve = goflix()
        .arg("serve")
        .env("GOFLIX_DATA_DIR", dir.path().join("data"))
        .env("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))
        .env("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", BATCH_DELAY_MS)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("goflix binary");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "goflix serve did not start: {}",
            read_log(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let source = clip(dir.path(), "source.mp4", "320x240", 2, true);
    let (traceparent, trace_id, span_id) = client_context();

    let id = upload(&client, &base, &token, &source, &traceparent).await;
    let video = wait_settled(&client, &base, &token, &id).await;
    assert_eq!(video["state"], "ready", "{video}");
    terminate(&mut serve);

    let spans = receiver.spans();
    assert_one_trace(
        &spans,
        (&trace_id, &span_id),
        &id,
        "goflix-serve",
        "goflix-serve",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_upload_to_ready_across_rabbitmq() {
    let receiver = Receiver::start();
    let mut cluster = Cluster::new().await;
    cluster.set_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone());
    cluster.set_env("OTEL_BSP_SCHEDULE_DELAY", BATCH_DELAY_MS);
    let amqp_url = cluster.amqp_url.clone();
    cluster.start_control(&amqp_url).await;
    cluster.start_worker().await;
    let token = login(&cluster.client, &cluster.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let source = clip(cluster.dir.path(), "source.mp4", "320x240", 2, true);
    let (traceparent, trace_id, span_id) = client_context();

    let id = upload(
        &cluster.client,
        &cluster.base,
        &token,
        &source,
        &traceparent,
    )
    .await;
    let video = wait_settled(&cluster.client, &cluster.base, &token, &id).await;
    assert_eq!(video["state"], "ready", "{video}\n{}", cluster.logs());
    terminate(&mut cluster.workers[0].child);
    terminate(&mut cluster.control.as_mut().unwrap().child);

    let spans = receiver.spans();
    assert_one_trace(
        &spans,
        (&trace_id, &span_id),
        &id,
        "goflix-control-api",
        "goflix-transcoder",
    );
    let relayed: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "outbox.publish" && s.trace_id == trace_id)
        .collect();
    assert_eq!(
        relayed.len(),
        1,
        "the outbox relay publishes the job in the upload's trace"
    );
}
