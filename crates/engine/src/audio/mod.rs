//! AUDIO_STATS aggregation (in progress).
