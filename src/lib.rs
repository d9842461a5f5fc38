//! The `goflix` binary's library: command implementations, the wiring of
//! each separate role ([`roles`]) and of all of them together ([`serve`]).
//! Tests start the same wiring on port 0.

pub mod cli;
pub mod healthcheck;
pub mod http;
pub mod roles;
pub mod serve;
