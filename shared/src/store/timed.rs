//! Storage latency: every call made through [`super::Store`] is timed into
//! `goflix_storage_operation_duration_seconds{backend, operation}`, until
//! the backend answered (for reads that stream, until the stream is ready).
//! Each call site resolves its histogram once ([`series!`]), so timing
//! costs two clock reads and a few atomic adds per call, no lookup.

use crate::metrics::Histogram;
use std::future::Future;
use std::time::Instant;

/// Runs `call`, recording how long it took in `series`.
pub(super) async fn observe<T>(series: &Histogram, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = call.await;
    series.observe(started.elapsed().as_secs_f64());
    result
}

/// The `&'static Histogram` of (`backend`, operation), created on first use.
macro_rules! series {
    ($backend:literal, $op:ident) => {{
        static SERIES: std::sync::LazyLock<std::sync::Arc<$crate::metrics::Histogram>> =
            std::sync::LazyLock::new(|| {
                $crate::metrics::STORAGE_DURATION.histogram(&[$backend, stringify!($op)])
            });
        &**SERIES
    }};
}
pub(super) use series;
