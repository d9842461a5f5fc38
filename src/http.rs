//! HTTP plumbing every role shares: `/healthz`, `/readyz` over the role's
//! dependency checks, and `/metrics` in the Prometheus text format with
//! request counts and latencies labelled by route pattern, never raw path.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A named dependency check for `/readyz`.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Request counters keyed by (route pattern, method, status class).
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, &'static str), Counter>>,
}

#[derive(Default, Clone, Copy)]
struct Counter {
    count: u64,
    seconds: f64,
}

impl Metrics {
    fn record(&self, route: String, method: String, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let mut requests = self.requests.lock().expect("metrics lock");
        let counter = requests.entry((route, method, class)).or_default();
        counter.count += 1;
        counter.seconds += seconds;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let requests = self.requests.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str("# HELP goflix_http_requests_total HTTP requests by route pattern, method and status class.\n");
        out.push_str("# TYPE goflix_http_requests_total counter\n");
        for ((route, method, class), c) in requests.iter() {
            let _ = writeln!(
                out,
                "goflix_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{class}\"}} {}",
                c.count
            );
        }
        out.push_str("# HELP goflix_http_request_duration_seconds_sum Time spent answering, by route pattern.\n");
        out.push_str("# TYPE goflix_http_request_duration_seconds_sum counter\n");
        for ((route, method, class), c) in requests.iter() {
            let _ = writeln!(
                out,
                "goflix_http_request_duration_seconds_sum{{route=\"{route}\",method=\"{method}\",status=\"{class}\"}} {:.6}",
                c.seconds
            );
        }
        out
    }
}

/// Middleware recording every request into [`Metrics`] under its route pattern.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        // Unmatched paths collapse to one label so attackers cannot grow the label set.
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let method = match method.as_str() {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other".into(),
        };
        metrics.record(
            route,
            method,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(response)
}

/// Mounts `/healthz`, `/readyz` and `/metrics`.
pub fn configure(cfg: &mut web::ServiceConfig, checks: Vec<(&'static str, Check)>) {
    let checks = web::Data::new(checks);
    cfg.app_data(checks)
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
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

async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}
