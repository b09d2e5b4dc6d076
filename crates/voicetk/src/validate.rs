//! `voicetk validate`: a linter for connector authors. Checks each payload against the
//! catalogue and, with `--sequence`, runs the call engine over the stream.

use std::io::{self, Write};

use voicetk_engine::{Applied, Engine, EngineConfig};
use voicetk_events::{ParseOptions, TelephonyKind, parse_documents};

/// What `voicetk validate` checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    /// Which telephony's catalogue applies. Default is partner.
    pub telephony: TelephonyKind,
    /// Also run the call engine over the stream, in order.
    pub sequence: bool,
    /// With `sequence`: accept invalid transitions and print their warnings instead.
    pub lenient: bool,
}

/// How many payloads passed and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateSummary {
    /// Payloads that are valid (and, with `sequence`, accepted by the engine).
    pub ok: usize,
    /// Payloads that are not.
    pub invalid: usize,
}

impl ValidateSummary {
    /// The process exit code CONTRACT.md §3 gives: 0 when all are valid, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.invalid == 0 { 0 } else { 1 }
    }
}

/// Validates `input` (one JSON payload, a JSON array, or NDJSON) and writes one line per
/// payload to `out`: `ok <TYPE> <callId>` or `error <n>: <json path>: <message>`, where `n`
/// is the payload's position (array index + 1, or NDJSON line number).
///
/// # Errors
/// Only when writing to `out` fails.
///
/// # Examples
/// ```
/// use voicetk::validate::{validate, ValidateOptions};
/// let input = br#"[{"type":"CALL_CONNECTED","detail":{"callId":"c1","callType":"inbound","participant":"+1 555"}},
///                 {"type":"RESUME","detail":{"callId":"c1","participant":"+1 555"}}]"#;
/// let mut out = Vec::new();
/// let opts = ValidateOptions { sequence: true, ..ValidateOptions::default() };
/// let summary = validate(input, &opts, &mut out)?;
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("ok CALL_CONNECTED c1\nerror 2: $: RESUME refused"));
/// assert_eq!(summary.exit_code(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn validate(
    input: &[u8],
    opts: &ValidateOptions,
    out: &mut impl Write,
) -> io::Result<ValidateSummary> {
    let parse = ParseOptions::for_telephony(opts.telephony);
    let mut engine = opts.sequence.then(|| {
        Engine::new(EngineConfig {
            telephony: opts.telephony,
            lenient: opts.lenient,
            ..EngineConfig::default()
        })
    });
    let mut summary = ValidateSummary::default();
    for doc in parse_documents(input, &parse) {
        let n = doc.position;
        let envelope = match doc.result {
            Ok(envelope) => envelope,
            Err(e) => {
                summary.invalid += 1;
                writeln!(out, "error {n}: {}: {}", e.path, e.message)?;
                continue;
            }
        };
        let (event_type, call_id) = (envelope.event_type(), envelope.call_id().to_owned());
        let warnings = match engine.as_mut() {
            None => Vec::new(),
            Some(engine) => match engine.apply(envelope, jiff::Timestamp::now()) {
                Ok(Applied::Accepted(accepted)) => accepted.warnings,
                Ok(Applied::Duplicate { seq }) => {
                    vec![format!("duplicate eventId: already accepted as seq {seq}")]
                }
                Err(refusal) => {
                    summary.invalid += 1;
                    writeln!(out, "error {n}: $: {}", refusal.message)?;
                    continue;
                }
            },
        };
        summary.ok += 1;
        writeln!(out, "ok {event_type} {call_id}")?;
        for w in warnings {
            writeln!(out, "warning {n}: $: {w}")?;
        }
    }
    Ok(summary)
}
