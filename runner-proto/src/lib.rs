//! The gRPC protocol of remote transcoding runners, package
//! `goflix.runner.v1`: the messages, the tonic client and server, and the
//! file descriptor set for server reflection. Generated at build time from
//! `proto/goflix/runner/v1/runner.proto`.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("goflix.runner.v1");

/// The encoded file descriptor set of `goflix.runner.v1`, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/runner_descriptor.bin"));

/// The fully qualified service name, as health checks and reflection list it.
pub const SERVICE_NAME: &str = "goflix.runner.v1.RunnerService";
