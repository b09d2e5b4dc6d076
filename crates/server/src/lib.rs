//! voicetk server (in progress).
