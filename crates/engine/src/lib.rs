//! voicetk engine (in progress).

pub mod audio;
