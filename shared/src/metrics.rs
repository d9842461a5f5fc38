//! Process-wide Prometheus metrics: every family Goflix exports is a
//! [`Family`] constant here (so names live in one place), its series are
//! atomics created on first use, and [`render`] writes the text exposition
//! format that `/metrics` serves on every role.
//!
//! Label values must come from bounded sets (route patterns, backend and
//! operation names, error codes); as a last line of defence a family that
//! reaches [`MAX_SERIES`] folds new label sets into one `other` series.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

/// Series per family beyond which new label sets are folded into `other`.
pub const MAX_SERIES: usize = 1000;

/// Bucket bounds for request and storage latencies, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Bucket bounds for whole transcode jobs, in seconds.
pub const JOB_BUCKETS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];
/// Bucket bounds for encode speed, as a multiple of real time.
pub const SPEED_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

/// What a family measures.
#[derive(Debug)]
pub enum Kind {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into cumulative buckets with these upper bounds.
    Histogram(&'static [f64]),
}

/// One metric name with its help text, kind and label names.
#[derive(Debug)]
pub struct Family {
    /// The metric name (histograms add `_bucket`, `_sum` and `_count`).
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Label names, in the order values are given.
    pub labels: &'static [&'static str],
}

/// HTTP requests by route pattern, method and status class.
pub static HTTP_REQUESTS: Family = Family {
    name: "goflix_http_requests_total",
    help: "HTTP requests by route pattern, method and status class.",
    kind: Kind::Counter,
    labels: &["route", "method", "status"],
};
/// Time until the response head, by route pattern.
pub static HTTP_DURATION: Family = Family {
    name: "goflix_http_request_duration_seconds",
    help: "Time from request to response head, by route pattern.",
    kind: Kind::Histogram(LATENCY_BUCKETS),
    labels: &["route"],
};
/// Response body bytes written, by route pattern.
pub static HTTP_RESPONSE_BYTES: Family = Family {
    name: "goflix_http_response_bytes_total",
    help: "Response body bytes sent, by route pattern (HEAD sends none).",
    kind: Kind::Counter,
    labels: &["route"],
};
/// Manifest cache lookups by tier and result.
pub static CACHE_REQUESTS: Family = Family {
    name: "goflix_cache_requests_total",
    help: "Manifest cache lookups by tier (memory, redis) and result (hit, miss).",
    kind: Kind::Counter,
    labels: &["tier", "result"],
};
/// Lookups a shared cache tier could not serve.
pub static CACHE_DEGRADED: Family = Family {
    name: "goflix_cache_degraded_total",
    help:
        "Manifest cache lookups the shared tier (Redis) could not serve because it was unreachable.",
    kind: Kind::Counter,
    labels: &[],
};
/// Slice lookups of the origin's media cache, by result.
pub static ORIGIN_CACHE_LOOKUPS: Family = Family {
    name: "goflix_origin_cache_lookups_total",
    help: "Slice lookups of the origin's media cache (remote stores): hit, miss (this request fetches it), coalesced (waits for a fetch in flight).",
    kind: Kind::Counter,
    labels: &["result"],
};
/// Media bytes answered from the origin's cache.
pub static ORIGIN_CACHE_SERVED_BYTES: Family = Family {
    name: "goflix_origin_cache_served_bytes_total",
    help: "Media bytes the origin answered through its media cache.",
    kind: Kind::Counter,
    labels: &[],
};
/// Storage reads of the origin's cache.
pub static ORIGIN_CACHE_FETCHES: Family = Family {
    name: "goflix_origin_cache_fetches_total",
    help: "Ranged storage GETs the origin's media cache made, by outcome (ok, failed); each fills one or more slices.",
    kind: Kind::Counter,
    labels: &["outcome"],
};
/// Slices the origin's cache evicted.
pub static ORIGIN_CACHE_EVICTIONS: Family = Family {
    name: "goflix_origin_cache_evictions_total",
    help: "Slices the origin's media cache evicted to stay within its byte budget.",
    kind: Kind::Counter,
    labels: &[],
};
/// Bytes the origin's cache holds.
pub static ORIGIN_CACHE_RESIDENT_BYTES: Family = Family {
    name: "goflix_origin_cache_bytes",
    help: "Bytes of media slices the origin's cache holds (GOFLIX_ORIGIN_CACHE_BYTES bounds it).",
    kind: Kind::Gauge,
    labels: &[],
};
/// Object storage call latency.
pub static STORAGE_DURATION: Family = Family {
    name: "goflix_storage_operation_duration_seconds",
    help: "Object storage calls by backend and operation, until the backend answered.",
    kind: Kind::Histogram(LATENCY_BUCKETS),
    labels: &["backend", "operation"],
};
/// Messages waiting in a queue.
pub static QUEUE_DEPTH: Family = Family {
    name: "goflix_queue_depth",
    help:
        "Jobs waiting in a queue (goflix.transcode, goflix.transcode.dead), sampled at scrape time.",
    kind: Kind::Gauge,
    labels: &["queue"],
};
/// Consumers of a queue.
pub static QUEUE_CONSUMERS: Family = Family {
    name: "goflix_queue_consumers",
    help: "Consumers of a queue (RabbitMQ consumers; for the database queue, workers holding a lease), sampled at scrape time.",
    kind: Kind::Gauge,
    labels: &["queue"],
};
/// Transcode job duration by outcome.
pub static JOB_DURATION: Family = Family {
    name: "goflix_job_duration_seconds",
    help: "Transcode jobs by outcome (ready, failed, retry, released, abandoned), from lease to settlement.",
    kind: Kind::Histogram(JOB_BUCKETS),
    labels: &["outcome"],
};
/// Encode speed.
pub static TRANSCODE_SPEED: Family = Family {
    name: "goflix_transcode_speed_ratio",
    help: "Encode speed of finished transcodes: media seconds per wall-clock second.",
    kind: Kind::Histogram(SPEED_BUCKETS),
    labels: &[],
};
/// Jobs failed for good by error code.
pub static JOBS_FAILED: Family = Family {
    name: "goflix_jobs_failed_total",
    help: "Transcode jobs failed for good, by error.code.",
    kind: Kind::Counter,
    labels: &["code"],
};
/// Jobs being worked on.
pub static JOBS_IN_FLIGHT: Family = Family {
    name: "goflix_jobs_in_flight",
    help: "Transcode jobs this process is working on.",
    kind: Kind::Gauge,
    labels: &[],
};
/// Password hashes computed.
pub static PASSWORD_HASHES: Family = Family {
    name: "goflix_password_hashes_total",
    help:
        "Argon2 password hashes computed (new passwords and sign-in checks, known account or not).",
    kind: Kind::Counter,
    labels: &[],
};
/// Biscuit authorizers built (datalog runs), for tokens that passed the shape check.
pub static TOKEN_AUTHORIZERS: Family = Family {
    name: "goflix_token_authorizers_total",
    help: "Biscuit authorizers built: datalog runs for tokens whose every block has a shape Goflix makes.",
    kind: Kind::Counter,
    labels: &[],
};
/// Tokens refused, by reason.
pub static TOKENS_REFUSED: Family = Family {
    name: "goflix_tokens_refused_total",
    help: "Tokens refused, by reason (oversized, unverifiable, foreign_block, expired, not_granted, authorizer).",
    kind: Kind::Counter,
    labels: &["reason"],
};

/// A counter series.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge series.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }
    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    /// Adds one now and subtracts it when the guard drops (work in flight).
    pub fn track(self: Arc<Self>) -> GaugeGuard {
        self.add(1);
        GaugeGuard(self)
    }
}

/// One unit of a gauge, given back on drop ([`Gauge::track`]).
#[derive(Debug)]
pub struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

/// A histogram series.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let index = self.bounds.partition_point(|bound| *bound < value);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

/// One series of a family.
#[derive(Debug, Clone)]
enum Series {
    Counter(Arc<Counter>),
    Gauge(Arc<Gauge>),
    Histogram(Arc<Histogram>),
}

/// Every family in use and its series, keyed by label values.
type Families = BTreeMap<&'static str, (&'static Family, BTreeMap<Vec<String>, Series>)>;

static REGISTRY: LazyLock<RwLock<Families>> = LazyLock::new(Default::default);

impl Family {
    /// The series with these label values (in [`Family::labels`] order).
    fn series(&'static self, values: &[&str]) -> Series {
        assert_eq!(
            values.len(),
            self.labels.len(),
            "{}: label values do not match the label names",
            self.name
        );
        let lookup = |families: &Families| {
            families
                .get(self.name)
                .and_then(|(_, series)| {
                    series.iter().find(|(k, _)| {
                        k.len() == values.len() && k.iter().zip(values).all(|(a, b)| a == b)
                    })
                })
                .map(|(_, s)| s.clone())
        };
        if let Some(series) = lookup(&REGISTRY.read().unwrap_or_else(|e| e.into_inner())) {
            return series;
        }
        let mut families = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
        let (_, series) = families
            .entry(self.name)
            .or_insert_with(|| (self, BTreeMap::new()));
        let mut key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        if series.len() >= MAX_SERIES && !series.contains_key(&key) {
            key = vec!["other".to_owned(); values.len()];
        }
        series
            .entry(key)
            .or_insert_with(|| match self.kind {
                Kind::Counter => Series::Counter(Arc::default()),
                Kind::Gauge => Series::Gauge(Arc::default()),
                Kind::Histogram(bounds) => Series::Histogram(Arc::new(Histogram::new(bounds))),
            })
            .clone()
    }

    /// The counter with these label values; panics if the family is no counter.
    pub fn counter(&'static self, values: &[&str]) -> Arc<Counter> {
        match self.series(values) {
            Series::Counter(c) => c,
            _ => panic!("{} is not a counter", self.name),
        }
    }

    /// The gauge with these label values; panics if the family is no gauge.
    pub fn gauge(&'static self, values: &[&str]) -> Arc<Gauge> {
        match self.series(values) {
            Series::Gauge(g) => g,
            _ => panic!("{} is not a gauge", self.name),
        }
    }

    /// The histogram with these label values; panics if the family is no histogram.
    pub fn histogram(&'static self, values: &[&str]) -> Arc<Histogram> {
        match self.series(values) {
            Series::Histogram(h) => h,
            _ => panic!("{} is not a histogram", self.name),
        }
    }
}

/// `value` if it is one of `allowed`, else `"other"`: keeps a label bounded.
pub fn bounded<'a>(value: &str, allowed: &[&'a str]) -> &'a str {
    allowed
        .iter()
        .find(|a| **a == value)
        .copied()
        .unwrap_or("other")
}

/// Every series in use, in the Prometheus text exposition format (0.0.4).
pub fn render() -> String {
    let families = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let mut out = String::with_capacity(16 * 1024);
    for (family, series) in families.values() {
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for (values, series) in series {
            let labels = label_pairs(family.labels, values);
            match series {
                Series::Counter(c) => sample(&mut out, family.name, "", &labels, c.get()),
                Series::Gauge(g) => sample(
                    &mut out,
                    family.name,
                    "",
                    &labels,
                    g.0.load(Ordering::Relaxed),
                ),
                Series::Histogram(h) => render_histogram(&mut out, family.name, &labels, h),
            }
        }
    }
    out
}

fn render_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let mut cumulative = 0;
    let separator = if labels.is_empty() { "" } else { "," };
    for (bound, bucket) in h.bounds.iter().zip(h.buckets.iter()) {
        cumulative += bucket.load(Ordering::Relaxed);
        let le = format!("{labels}{separator}le=\"{bound}\"");
        sample(out, name, "_bucket", &le, cumulative);
    }
    // Read after the buckets, so +Inf is never below the last bucket.
    let count = h.count.load(Ordering::Relaxed).max(cumulative);
    sample(
        out,
        name,
        "_bucket",
        &format!("{labels}{separator}le=\"+Inf\""),
        count,
    );
    let sum = f64::from_bits(h.sum_bits.load(Ordering::Relaxed));
    sample(out, name, "_sum", labels, sum);
    sample(out, name, "_count", labels, count);
}

fn sample(out: &mut String, name: &str, suffix: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name}{suffix} {value}");
    } else {
        let _ = writeln!(out, "{name}{suffix}{{{labels}}} {value}");
    }
}

/// `a="x",b="y"` with values escaped as the text format requires.
fn label_pairs(names: &[&str], values: &[String]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_COUNTER: Family = Family {
        name: "goflix_test_things_total",
        help: "Things.",
        kind: Kind::Counter,
        labels: &["kind"],
    };
    static TEST_HISTOGRAM: Family = Family {
        name: "goflix_test_seconds",
        help: "Seconds.",
        kind: Kind::Histogram(&[0.1, 1.0]),
        labels: &["op"],
    };
    static TEST_BOUNDED: Family = Family {
        name: "goflix_test_bounded_total",
        help: "Bounded.",
        kind: Kind::Counter,
        labels: &["value"],
    };

    #[test]
    fn counters_render_with_escaped_labels() {
        TEST_COUNTER.counter(&["a\"b\\c\nd"]).add(3);
        let text = render();
        assert!(text.contains("# TYPE goflix_test_things_total counter\n"));
        assert!(
            text.contains("goflix_test_things_total{kind=\"a\\\"b\\\\c\\nd\"} 3\n"),
            "{text}"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let h = TEST_HISTOGRAM.histogram(&["get"]);
        for v in [0.05, 0.1, 0.5, 7.0] {
            h.observe(v);
        }
        let text = render();
        for line in [
            "goflix_test_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n",
            "goflix_test_seconds_bucket{op=\"get\",le=\"1\"} 3\n",
            "goflix_test_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n",
            "goflix_test_seconds_sum{op=\"get\"} 7.65\n",
            "goflix_test_seconds_count{op=\"get\"} 4\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn label_sets_beyond_the_limit_fold_into_other() {
        for n in 0..MAX_SERIES + 50 {
            TEST_BOUNDED.counter(&[&format!("v{n}")]).inc();
        }
        let text = render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("goflix_test_bounded_total{"))
            .count();
        assert_eq!(series, MAX_SERIES + 1);
        assert!(text.contains("goflix_test_bounded_total{value=\"other\"} 50\n"));
    }

    #[test]
    fn bounded_maps_unknown_values_to_other() {
        assert_eq!(bounded("hit", &["hit", "miss"]), "hit");
        assert_eq!(bounded("../../etc", &["hit", "miss"]), "other");
    }
}
