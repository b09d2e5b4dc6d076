//! voicetk delivery (in progress).
