//! voicetk: an open telephony event gateway speaking the Salesforce Voice Toolkit event model.
//!
//! (Crate docs with a runnable example land with the engine and delivery crates.)

pub mod client;
pub mod sources;
pub mod validate;

pub use voicetk_delivery as delivery;
pub use voicetk_engine as engine;
pub use voicetk_events as events;
pub use voicetk_log as log;
pub use voicetk_server as server;
