//! Conformance tests of the origin: a real listener over a folder store,
//! driven with raw HTTP/1.1 so every byte on the wire is checked.

mod cdn_secret;
mod helpers;
mod http;
mod live;
mod manifests;
mod media;
mod modifiers;
mod private;
mod security;
