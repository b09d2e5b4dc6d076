//! baresip's ctrl_tcp messages: the JSON inside each netstring, and the text answers of the
//! few commands whose output the source reads (`callstat`, `reginfo`, `mute`, `callfind`).
//!
//! Everything here was checked against baresip 1.0.0 (Debian's `baresip-core`); the recorded
//! frames in the tests are real.

use serde_json::{Map, Value};

/// Why a frame from baresip is not a message the source understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// The frame is JSON but not an object.
    #[error("$: expected a JSON object, found {0}")]
    NotAnObject(String),
    /// Neither `"response": true` nor `"event": true`.
    #[error("$: expected \"response\": true or \"event\": true")]
    UnknownKind,
    /// A field has the wrong type.
    #[error("{path}: expected {expected}")]
    Field {
        /// The field's name.
        path: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
}

/// A command's answer: `{"response":true,"ok":..,"data":"..","token":".."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Whether baresip ran the command. Some failures still say `true` and explain in `data`
    /// (`callfind` of an unknown id).
    pub ok: bool,
    /// The command's text output.
    pub data: String,
    /// The token of the command answered, if it carried one.
    pub token: Option<String>,
}

/// Which side placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The softphone received the call.
    Incoming,
    /// The softphone placed the call.
    Outgoing,
}

/// An event pushed by baresip: `{"event":true,"type":"CALL_ESTABLISHED",...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `type`: `CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_RTCP`, `REGISTER_OK`, ...
    pub kind: String,
    /// `accountaor`: the softphone account the event belongs to.
    pub account: Option<String>,
    /// `direction`.
    pub direction: Option<Direction>,
    /// `peeruri`: the other party.
    pub peer: Option<String>,
    /// `id`: the call's id (absent on events not tied to a call yet, e.g. the first
    /// CALL_LOCAL_SDP of an outgoing call).
    pub call_id: Option<String>,
    /// `param`: the event's argument (the close reason of CALL_CLOSED, the medium of
    /// CALL_RTCP, ...).
    pub param: Option<String>,
    /// The whole object, for the fields only some events carry (`rtcp_stats`).
    pub raw: Value,
}

/// One frame from baresip.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A command's answer.
    Response(Response),
    /// A pushed event.
    Event(Event),
}

/// Parses one frame's payload.
///
/// # Errors
/// A [`ProtocolError`] naming what is wrong.
pub fn parse_message(payload: &[u8]) -> Result<Message, ProtocolError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| ProtocolError::Json(e.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(ProtocolError::NotAnObject(kind_of(&value).to_owned()));
    };
    if map.get("response").and_then(Value::as_bool) == Some(true) {
        return Ok(Message::Response(Response {
            ok: map
                .get("ok")
                .and_then(Value::as_bool)
                .ok_or(ProtocolError::Field {
                    path: "ok",
                    expected: "a boolean",
                })?,
            data: optional_str(map, "data")?.unwrap_or_default(),
            token: optional_str(map, "token")?,
        }));
    }
    if map.get("event").and_then(Value::as_bool) == Some(true) {
        let kind = optional_str(map, "type")?.ok_or(ProtocolError::Field {
            path: "type",
            expected: "a string",
        })?;
        let direction = match optional_str(map, "direction")?.as_deref() {
            Some("incoming") => Some(Direction::Incoming),
            Some("outgoing") => Some(Direction::Outgoing),
            _ => None,
        };
        return Ok(Message::Event(Event {
            kind,
            account: non_empty(optional_str(map, "accountaor")?),
            direction,
            peer: non_empty(optional_str(map, "peeruri")?),
            call_id: non_empty(optional_str(map, "id")?),
            param: optional_str(map, "param")?,
            raw: value.clone(),
        }));
    }
    Err(ProtocolError::UnknownKind)
}

fn optional_str(
    map: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, ProtocolError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ProtocolError::Field {
            path: key,
            expected: "a string",
        }),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A command frame's payload: `{"command":..,"params":..,"token":..}`.
pub fn encode_command(command: &str, params: &str, token: &str) -> Vec<u8> {
    serde_json::json!({ "command": command, "params": params, "token": token })
        .to_string()
        .into_bytes()
}

/// What `callstat` says about baresip's current call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStat {
    /// The call's id (`id=...`).
    pub id: String,
    /// The call's state as baresip names it (`INCOMING`, `OUTGOING`, `RINGING`, `EARLY`,
    /// `ESTABLISHED`, ...).
    pub state: Option<String>,
    /// `direction`.
    pub direction: Option<Direction>,
    /// `peer_uri`, without its angle brackets.
    pub peer: Option<String>,
    /// `local_uri` (the account), without its angle brackets.
    pub local: Option<String>,
}

/// Reads `callstat`'s output; `None` when there is no current call.
pub fn parse_callstat(data: &str) -> Option<CallStat> {
    let mut id = None;
    let mut state = None;
    let mut direction = None;
    let mut peer = None;
    let mut local = None;
    for line in data.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("peer_uri:") {
            peer = Some(unbracket(rest));
        } else if let Some(rest) = line.strip_prefix("local_uri:") {
            local = Some(unbracket(rest));
        } else if let Some(rest) = line.strip_prefix("direction:") {
            direction = match rest.trim() {
                "Incoming" => Some(Direction::Incoming),
                "Outgoing" => Some(Direction::Outgoing),
                _ => None,
            };
        } else if let Some(rest) = line.strip_prefix("===== Call debug (") {
            state = rest.split_once(')').map(|(s, _)| s.trim().to_owned());
        } else if id.is_none() {
            id = line
                .split_whitespace()
                .find_map(|word| word.strip_prefix("id="))
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
        }
    }
    Some(CallStat {
        id: id?,
        state,
        direction,
        peer: peer.filter(|p| !p.is_empty()),
        local: local.filter(|l| !l.is_empty()),
    })
}

/// Reads `listcalls`' output: the line numbers of baresip's calls (`[line 2]`).
pub fn parse_listcalls(data: &str) -> Vec<u32> {
    data.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("[line ")?;
            let (number, _) = rest.split_once(']')?;
            number.trim().parse().ok()
        })
        .collect()
}

fn unbracket(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// Reads `reginfo`'s output: the softphone's accounts, the current one (marked `>`) first.
pub fn parse_reginfo(data: &str) -> Vec<String> {
    let mut current = Vec::new();
    let mut others = Vec::new();
    for line in data.lines() {
        let trimmed = line.trim_start();
        let is_current = trimmed.starts_with('>');
        let Some(aor) = trimmed
            .trim_start_matches('>')
            .split_whitespace()
            .find(|w| w.starts_with("sip:") || w.starts_with("sips:"))
        else {
            continue;
        };
        if is_current {
            current.push(aor.to_owned());
        } else {
            others.push(aor.to_owned());
        }
    }
    current.extend(others);
    current
}

/// Reads `mute`'s answer: `Some(true)` for "call muted", `Some(false)` for "call un-muted".
pub fn parse_mute(data: &str) -> Option<bool> {
    match data.trim() {
        "call muted" => Some(true),
        "call un-muted" => Some(false),
        _ => None,
    }
}

/// What `callfind ID` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFind {
    /// The call is now baresip's current call.
    Selected,
    /// baresip has no such call (or no call at all).
    NotFound,
    /// An answer the source does not recognise.
    Other(String),
}

/// Reads `callfind`'s answer. baresip 1.0.0 says `setting current call: ID` or
/// `call not found (id=ID)`, and refuses the command itself (`command not found`) when it
/// has no call at all.
pub fn parse_callfind(response: &Response) -> CallFind {
    let data = response.data.trim();
    if response.ok && data.starts_with("setting current call") {
        CallFind::Selected
    } else if data.starts_with("call not found") || data.starts_with("command not found") {
        CallFind::NotFound
    } else {
        CallFind::Other(data.to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn recorded_response_and_event() {
        let r = parse_message(br#"{"response":true,"ok":true,"data":"","token":"t1"}"#).unwrap();
        assert_eq!(
            r,
            Message::Response(Response {
                ok: true,
                data: String::new(),
                token: Some("t1".into())
            })
        );
        let e = parse_message(br#"{"event":true,"type":"CALL_ESTABLISHED","class":"call","accountaor":"sip:a@127.0.0.1:5061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:5072","id":"e8a897270ce84cac","param":"sip:b@127.0.0.1:5072"}"#).unwrap();
        let Message::Event(e) = e else {
            panic!("{e:?}")
        };
        assert_eq!(e.kind, "CALL_ESTABLISHED");
        assert_eq!(e.account.as_deref(), Some("sip:a@127.0.0.1:5061"));
        assert_eq!(e.direction, Some(Direction::Outgoing));
        assert_eq!(e.peer.as_deref(), Some("sip:b@127.0.0.1:5072"));
        assert_eq!(e.call_id.as_deref(), Some("e8a897270ce84cac"));
        // The first CALL_LOCAL_SDP of an outgoing call has no id yet.
        let Message::Event(e) = parse_message(br#"{"event":true,"type":"CALL_LOCAL_SDP","class":"other","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","param":"offer"}"#).unwrap() else { panic!() };
        assert_eq!(e.call_id, None);
    }

    #[test]
    fn bad_frames_are_named() {
        assert!(matches!(
            parse_message(b"{nope"),
            Err(ProtocolError::Json(_))
        ));
        assert_eq!(
            parse_message(b"[1]").unwrap_err().to_string(),
            "$: expected a JSON object, found an array"
        );
        assert_eq!(
            parse_message(br#"{"hello":1}"#).unwrap_err(),
            ProtocolError::UnknownKind
        );
        assert_eq!(
            parse_message(br#"{"response":true,"ok":"yes"}"#)
                .unwrap_err()
                .to_string(),
            "ok: expected a boolean"
        );
        assert_eq!(
            parse_message(br#"{"event":true,"type":"CALL_CLOSED","id":7}"#)
                .unwrap_err()
                .to_string(),
            "id: expected a string"
        );
    }

    #[test]
    fn command_frames() {
        let v: Value = serde_json::from_slice(&encode_command("dial", "sip:b@h", "vt-1")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"command":"dial","params":"sip:b@h","token":"vt-1"})
        );
    }

    #[test]
    fn recorded_callstat() {
        let data = "\n===== Call debug (OUTGOING) =====\n local_uri:  <sip:a@127.0.0.1:15061>\n peer_uri:   <sip:x@127.0.0.1:15099>\n af=AF_INET id=e95981e06bad98b8\n direction: Outgoing\nSDP session\n  local attributes:\n    tool='baresip 1.0.0'\n";
        assert_eq!(
            parse_callstat(data),
            Some(CallStat {
                id: "e95981e06bad98b8".into(),
                state: Some("OUTGOING".into()),
                direction: Some(Direction::Outgoing),
                peer: Some("sip:x@127.0.0.1:15099".into()),
                local: Some("sip:a@127.0.0.1:15061".into()),
            })
        );
        assert_eq!(parse_callstat("\n(no active calls)\n"), None);
    }

    #[test]
    fn recorded_listcalls() {
        let data = "\n--- Active calls (2) ---\n  [line 1]  0:00:04  ESTABLISHED             sip:b@127.0.0.1:15071\n> [line 2]  0:00:02  ESTABLISHED             sip:b@127.0.0.1:15071\n\n";
        assert_eq!(parse_listcalls(data), [1, 2]);
        assert!(parse_listcalls("\n--- Active calls (0) ---\n\n").is_empty());
    }

    #[test]
    fn recorded_reginfo() {
        let data = "\n--- User Agents (1) ---\n> sip:a@127.0.0.1:15061                     \n\n";
        assert_eq!(parse_reginfo(data), ["sip:a@127.0.0.1:15061"]);
        let two =
            "\n--- User Agents (2) ---\n  sip:x@pbx.example.com  OK\n> sip:a@pbx.example.com  OK\n";
        assert_eq!(
            parse_reginfo(two),
            ["sip:a@pbx.example.com", "sip:x@pbx.example.com"]
        );
    }

    #[test]
    fn recorded_mute_and_callfind_answers() {
        assert_eq!(parse_mute("\ncall muted\n"), Some(true));
        assert_eq!(parse_mute("\ncall un-muted\n"), Some(false));
        assert_eq!(parse_mute(""), None);
        let r = |ok, data: &str| Response {
            ok,
            data: data.into(),
            token: None,
        };
        assert_eq!(
            parse_callfind(&r(true, "setting current call: 8a718945bfc69afb\n")),
            CallFind::Selected
        );
        assert_eq!(
            parse_callfind(&r(true, "call not found (id=nosuch)\n")),
            CallFind::NotFound
        );
        assert_eq!(
            parse_callfind(&r(false, "command not found (callfind)\n")),
            CallFind::NotFound
        );
        assert_eq!(
            parse_callfind(&r(false, "boom")),
            CallFind::Other("boom".into())
        );
    }
}
