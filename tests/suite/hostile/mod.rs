//! The hostile suite: each module is one class of attack from the threat
//! model in `docs/security.md`, driven through the real HTTP interface of
//! `goflix serve` (in-process, or a separate process where memory is
//! measured) and of the distributed roles.

pub mod serve_process;

mod bodies;
mod deletion;
mod failure_messages;
mod lockout;
mod origin_tokens;
mod passwords;
mod sandbox;
mod small_holes;
mod tokens;
pub mod visibility;
