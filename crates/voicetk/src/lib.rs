//! voicetk facade.
