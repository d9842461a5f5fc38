//! Conformance tests of the origin: a real listener over a folder store,
//! driven with raw HTTP/1.1 so every byte on the wire is checked.

mod helpers;
mod http;
mod manifests;
mod media;
mod private;
mod security;
