//! End-to-end tests of the control API: a real actix server on port 0 over
//! a temporary SQLite database (or, for the upload, event and title-search
//! tests, a fresh PostgreSQL database on `GOFLIX_TEST_POSTGRES_URL`), folder store and
//! in-process event bus.

mod auth;
mod console;
mod events;
mod helpers;
mod upload;
mod videos;
