//! The `goflix` binary's library: command implementations and the wiring
//! that runs the roles together. Tests start the same wiring on port 0.

pub mod cli;
pub mod healthcheck;
pub mod http;
pub mod serve;
