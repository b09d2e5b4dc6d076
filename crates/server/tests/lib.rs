//! Integration tests of the gateway: a real server on 127.0.0.1:0, a real SQLite file, real
//! HTTP, WebSocket and SSE clients. One test binary (fast to link).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

mod actions;
mod api;
mod auth;
mod delivery;
mod restart;
mod samples;
mod storage;
mod supervision;
mod webhooks;
