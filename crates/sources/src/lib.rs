//! voicetk sources (in progress).
