//! voicetk log (in progress).
