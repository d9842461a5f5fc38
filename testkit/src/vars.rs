//! The `GOFLIX_TEST_*` variables naming the test services.

/// The value of the test variable `name` (`GOFLIX_TEST_POSTGRES_URL`,
/// `GOFLIX_TEST_AMQP_URL`, `GOFLIX_TEST_REDIS_URL`, `GOFLIX_TEST_S3_*`);
/// panics, naming it and `scripts/test-services.sh`, when it is unset, so a
/// test that needs a service fails instead of skipping.
pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test services with \
             `eval \"$(scripts/test-services.sh)\"`, which exports it \
             (scripts/test.sh does this)"
        )
    })
}
