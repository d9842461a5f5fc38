//! The pages a person opens in a browser — the console at `/`, the watch
//! page `/watch/{id}` and the chrome-less player `/embed/{id}` — and the
//! assets they load from `/assets/{hashed name}`. Everything is embedded at
//! compile time (see `build.rs`): no Node.js at run time, no third-party
//! request from any page.
//!
//! This crate renders the HTML and serves the assets; which video a page
//! shows, and whether it may be framed, is decided by its caller (the
//! control API looks the video up).

mod assets;
mod html;
mod policy;

pub use assets::{configure, Asset};
pub use html::{console, embed, escape, watch, VideoPage};
