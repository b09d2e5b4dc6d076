//! End-to-end tests of the `voicetk` binary: real processes, real sockets on loopback, a real
//! SQLite file. One test binary (fast to link).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli {
    pub mod process;

    mod baresip;
    mod crash;
    mod serve;
    mod simulate;
    mod validate;
}
