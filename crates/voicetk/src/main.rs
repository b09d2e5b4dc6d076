//! voicetk CLI.
fn main() {}
