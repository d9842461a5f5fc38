//! The `goflix` binary's library: command implementations ([`cli`]), the
//! separate roles ([`roles`]) and all of them in one process ([`serve`]),
//! both assembled from the same parts, messaging stack and HTTP listener
//! (the private `parts`, `messaging` and [`running`] modules). Tests start
//! the same wiring on port 0.

pub mod cli;
pub mod healthcheck;
pub mod http;
mod messaging;
mod parts;
pub mod roles;
pub mod running;
pub mod serve;
