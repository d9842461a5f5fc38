//! HTTP plumbing every role shares: `/healthz`, `/readyz` over the role's
//! dependency checks, `/metrics` (the process-wide registry of
//! [`goflix_shared::metrics`] in the Prometheus text format, after the
//! role's [`Sampler`]s refreshed their gauges), and [`track`], the
//! middleware that counts every request under its route pattern, never its
//! raw path.
//!
//! [`track`] sits in front of the origin, which is benchmarked against
//! nginx: per request it does one read-locked map lookup of the route's
//! pre-resolved series and a few atomic adds, and body bytes are added as
//! chunks go out.

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use goflix_shared::metrics::{self, Counter, Histogram};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A named dependency check for `/readyz`.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Refreshes gauges that are read from a dependency (queue depths) right
/// before `/metrics` renders.
pub type Sampler = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Longest a scrape waits for the samplers; a slow dependency leaves its
/// gauges at their previous values instead of failing the scrape.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(3);

/// Label of requests that matched no route: attackers cannot grow the label set.
const UNMATCHED: &str = "unmatched";

/// Methods with a label of their own; anything else is `other`.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];
const METHOD_LABELS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];
const STATUS_LABELS: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The series of one route pattern, resolved once.
struct RouteSeries {
    route: String,
    /// `goflix_http_requests_total` by method and status class, created on first use.
    requests: [[OnceLock<Arc<Counter>>; 5]; 8],
    duration: Arc<Histogram>,
    bytes: Arc<Counter>,
}

impl RouteSeries {
    fn new(route: &str) -> Self {
        Self {
            route: route.to_owned(),
            requests: Default::default(),
            duration: metrics::HTTP_DURATION.histogram(&[route]),
            bytes: metrics::HTTP_RESPONSE_BYTES.counter(&[route]),
        }
    }

    fn requests(&self, method: usize, status: usize) -> &Counter {
        self.requests[method][status].get_or_init(|| {
            metrics::HTTP_REQUESTS.counter(&[
                &self.route,
                METHOD_LABELS[method],
                STATUS_LABELS[status],
            ])
        })
    }
}

/// The HTTP series of one server, by route pattern.
#[derive(Default)]
pub struct Metrics {
    routes: RwLock<HashMap<String, Arc<RouteSeries>>>,
}

impl Metrics {
    fn route(&self, pattern: &str) -> Arc<RouteSeries> {
        if let Some(series) = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(pattern)
        {
            return series.clone();
        }
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(pattern.to_owned())
            .or_insert_with(|| Arc::new(RouteSeries::new(pattern)))
            .clone()
    }
}

/// Middleware recording every request under its route pattern.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = METHODS
        .iter()
        .position(|m| m == req.method())
        .unwrap_or(METHODS.len());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let response = next.call(req).await?;
    let Some(metrics) = metrics else {
        return Ok(response.map_body(|_, body| Counted { body, sink: None }));
    };
    let elapsed = started.elapsed();
    let pattern = response.request().match_pattern();
    let series = metrics.route(pattern.as_deref().unwrap_or(UNMATCHED));
    let status = response.status().as_u16();
    let class = usize::from(status / 100).clamp(1, 5) - 1;
    series.requests(method, class).inc();
    series.duration.observe(elapsed.as_secs_f64());
    if tracing::enabled!(tracing::Level::DEBUG) {
        // Path parameters only: the query (playback tokens) and headers stay out of logs.
        let info = response.request().match_info();
        let video_id = info.get("video_id").or_else(|| info.get("id"));
        tracing::debug!(
            route = %series.route,
            method = METHOD_LABELS[method],
            status,
            video_id,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    // A HEAD response has a body size but sends no body.
    let sink = (method != 1).then_some(series);
    Ok(response.map_body(|_, body| Counted { body, sink }))
}

pin_project_lite::pin_project! {
    /// A response body that adds the bytes it sends to its route's
    /// `goflix_http_response_bytes_total`, chunk by chunk.
    struct Counted<B> {
        #[pin]
        body: B,
        sink: Option<Arc<RouteSeries>>,
    }
}

impl<B: MessageBody> MessageBody for Counted<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let polled = this.body.poll_next(cx);
        if let (Poll::Ready(Some(Ok(chunk))), Some(sink)) = (&polled, this.sink.as_ref()) {
            sink.bytes.add(chunk.len() as u64);
        }
        polled
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        let Self { body, sink } = self;
        match body.try_into_bytes() {
            Ok(bytes) => {
                if let Some(sink) = &sink {
                    sink.bytes.add(bytes.len() as u64);
                }
                Ok(bytes)
            }
            Err(body) => Err(Self { body, sink }),
        }
    }
}

/// Mounts `/healthz`, `/readyz` and `/metrics`.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    checks: Vec<(&'static str, Check)>,
    samplers: Vec<Sampler>,
) {
    cfg.app_data(web::Data::new(checks))
        .app_data(web::Data::new(samplers))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(render_metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

async fn readyz(checks: web::Data<Vec<(&'static str, Check)>>) -> HttpResponse {
    let mut failures = serde_json::Map::new();
    for (name, check) in checks.iter() {
        if let Err(reason) = check().await {
            failures.insert((*name).into(), reason.into());
        }
    }
    if failures.is_empty() {
        HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(serde_json::json!({"status": "unavailable", "failing": failures}))
    }
}

async fn render_metrics(samplers: web::Data<Vec<Sampler>>) -> HttpResponse {
    let sampled = futures_util::future::join_all(samplers.iter().map(|sample| sample()));
    match tokio::time::timeout(SAMPLE_TIMEOUT, sampled).await {
        Ok(results) => {
            for error in results.into_iter().filter_map(Result::err) {
                tracing::debug!(%error, "a metrics sampler failed; its gauges keep their last values");
            }
        }
        Err(_) => tracing::debug!("metrics samplers timed out; gauges keep their last values"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics::render())
}
