//! Tests of `SqliteLog` through the `EventLog` trait.

mod append;
mod concurrency;
mod crash;
mod read;
mod recover;
mod retention;
mod support;
