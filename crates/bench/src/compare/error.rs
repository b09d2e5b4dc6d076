//! What can stop a comparison run.

use std::io;

/// Why a comparison run (or one of its peers) could not run.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// An I/O operation failed; `what` says which.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A peer process (voicetk, nats-server, the raw writer) could not be started or did not
    /// become ready.
    #[error("starting {peer}: {message}")]
    Spawn {
        /// Which peer.
        peer: String,
        /// What went wrong, with the peer's own output when there is some.
        message: String,
    },
    /// A peer broke the protocol or refused a request during the run.
    #[error("{peer}: {message}")]
    Protocol {
        /// Which peer.
        peer: String,
        /// What it did.
        message: String,
    },
    /// A component the run needs is not installed.
    #[error("{program} not found ({hint})")]
    Missing {
        /// The program looked for.
        program: String,
        /// How to install it.
        hint: String,
    },
    /// Bad options.
    #[error("{0}")]
    Usage(String),
}

impl CompareError {
    /// An [`Io`](Self::Io) error for `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> CompareError {
        let what = what.into();
        move |source| CompareError::Io { what, source }
    }

    /// A [`Protocol`](Self::Protocol) error of `peer`.
    pub fn protocol(peer: impl Into<String>, message: impl Into<String>) -> CompareError {
        CompareError::Protocol {
            peer: peer.into(),
            message: message.into(),
        }
    }
}
