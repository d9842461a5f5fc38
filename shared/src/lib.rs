//! Building blocks every Goflix role uses: configuration, domain types, the
//! object store, the job queue, event bus and [`command`] channel, the manifest cache, token keys,
//! shutdown signalling, telemetry and [`metrics`]; [`broker`] is the RabbitMQ connection
//! behind the production queue and bus. Each backend concern is one trait with
//! an embedded default implementation.

pub mod broadcast;
pub mod broker;
pub mod cache;
pub mod captions;
pub mod client_ip;
pub mod command;
pub mod config;
pub mod domain;
pub mod escape;
pub mod events;
pub mod layout;
pub mod metrics;
pub mod queue;
pub mod revocation_feed;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod trace_context;
