//! The test services (`scripts/test-services.sh` starts them and exports
//! `GOFLIX_TEST_*`), through `goflix-testkit`: a test that needs one fails,
//! never skips, when its variable is missing.

#![allow(dead_code, unused_imports)] // each test binary uses the helpers it needs

pub mod broker;

pub use goflix_testkit::s3::{s3_options, s3_store};
pub use goflix_testkit::var as service;
