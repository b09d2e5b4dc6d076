//! Integration tests of voicetk-log, all in one binary (one link on a 2-core machine). Every
//! test uses a real SQLite file in its own temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sqlite;
