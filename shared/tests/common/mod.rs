//! The test services (`scripts/test-services.sh` starts them and exports
//! `GOFLIX_TEST_*`): a test that needs one fails, never skips, when its
//! variable is missing.

#![allow(dead_code)] // each test binary uses the helpers it needs

pub mod broker;

use goflix_shared::store::{S3Options, S3Store};

/// The value of a `GOFLIX_TEST_*` variable, or a failure saying how to set it.
pub fn service(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test services with \
             `env=$(scripts/test-services.sh) && eval \"$env\"` (scripts/test.sh does this)"
        )
    })
}

/// Options for the test S3 server, under a prefix of this test's own.
pub fn s3_options() -> S3Options {
    S3Options {
        bucket: service("GOFLIX_TEST_S3_BUCKET"),
        prefix: format!("test-{}/", uuid::Uuid::new_v4().simple()),
        endpoint: Some(service("GOFLIX_TEST_S3_ENDPOINT")),
        region: Some("us-east-1".into()),
        path_style: true,
        credentials: None,
    }
    .with_credentials(
        &service("GOFLIX_TEST_S3_ACCESS_KEY"),
        &service("GOFLIX_TEST_S3_SECRET_KEY"),
    )
}

/// A store on the test S3 server, under a prefix of this test's own.
pub async fn s3_store() -> S3Store {
    S3Store::open(s3_options()).await.unwrap()
}
