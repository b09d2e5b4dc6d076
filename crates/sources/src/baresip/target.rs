//! Turning a `phoneNumber` into the SIP URI baresip dials.

/// Why a `phoneNumber` cannot be dialed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Empty after trimming.
    #[error("phoneNumber: must not be empty")]
    Empty,
    /// Holds a character a SIP URI cannot carry here.
    #[error("phoneNumber: {found:?} cannot be dialed: {reason}")]
    Invalid {
        /// The number as given.
        found: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A bare number needs the account's domain, and the softphone's account is unknown.
    #[error(
        "phoneNumber: {found:?} is not a SIP URI, and the softphone's account (whose domain would complete it) is unknown"
    )]
    NoDomain {
        /// The number as given.
        found: String,
    },
}

/// The SIP URI to dial for `number`, completing bare numbers with the domain of `account`
/// (the softphone's account AOR).
///
/// - `sip:…` / `sips:…` URIs are dialed as given.
/// - `user@host` gets `sip:` in front.
/// - `tel:+1…` and bare numbers or user names become `sip:USER@DOMAIN`, where `DOMAIN` is the
///   host (and port) of `account`: the PBX or registrar the account belongs to routes them.
///   Visual separators (spaces, `-`, `.`, `(`, `)`) are dropped from numbers, and `#` is
///   escaped as `%23`.
///
/// # Errors
/// [`TargetError`] naming `phoneNumber` when it is empty, holds characters a SIP URI cannot
/// carry, or is bare while `account` is unknown.
///
/// # Examples
/// ```
/// use voicetk_sources::baresip::dial_target;
///
/// let aor = Some("sip:agent@pbx.example.com");
/// assert_eq!(dial_target("sip:b@127.0.0.1:5072", aor)?, "sip:b@127.0.0.1:5072");
/// assert_eq!(dial_target("bob@example.org", aor)?, "sip:bob@example.org");
/// assert_eq!(dial_target("+1 (415) 555-0100", aor)?, "sip:+14155550100@pbx.example.com");
/// assert_eq!(dial_target("tel:+441234", aor)?, "sip:+441234@pbx.example.com");
/// assert!(dial_target("  ", aor).is_err());
/// assert!(dial_target("1234", None).is_err());
/// # Ok::<(), voicetk_sources::baresip::TargetError>(())
/// ```
pub fn dial_target(number: &str, account: Option<&str>) -> Result<String, TargetError> {
    let number = number.trim();
    if number.is_empty() {
        return Err(TargetError::Empty);
    }
    let invalid = |reason| TargetError::Invalid {
        found: number.to_owned(),
        reason,
    };
    if number
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>' | '"'))
    {
        return Err(invalid(
            "control characters, '<', '>' and '\"' are not allowed",
        ));
    }
    let lower = number.to_ascii_lowercase();
    if lower.starts_with("sip:") || lower.starts_with("sips:") {
        if number.contains(char::is_whitespace) {
            return Err(invalid("a SIP URI cannot contain spaces"));
        }
        if !number.contains('@') && number.split_once(':').is_none_or(|(_, r)| r.is_empty()) {
            return Err(invalid("the SIP URI has no host"));
        }
        return Ok(number.to_owned());
    }
    if number.contains('@') {
        if number.contains(char::is_whitespace) {
            return Err(invalid("a SIP address cannot contain spaces"));
        }
        let (user, host) = number.split_once('@').unwrap_or_default();
        if user.is_empty() || host.is_empty() {
            return Err(invalid("expected USER@HOST"));
        }
        return Ok(format!("sip:{number}"));
    }
    let bare = lower
        .strip_prefix("tel:")
        .map_or(number, |_| &number[4..])
        .trim();
    let mut user = String::with_capacity(bare.len());
    for c in bare.chars() {
        match c {
            ' ' | '-' | '.' | '(' | ')' => {}
            '#' => user.push_str("%23"),
            c if c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '_' | '!' | '~') => {
                user.push(c)
            }
            _ => {
                return Err(invalid(
                    "expected a SIP URI, USER@HOST, or a number of digits, letters, '+', '*' and '#'",
                ));
            }
        }
    }
    if user.is_empty() {
        return Err(invalid("no digits or letters to dial"));
    }
    let domain = account
        .and_then(domain_of)
        .ok_or_else(|| TargetError::NoDomain {
            found: number.to_owned(),
        })?;
    Ok(format!("sip:{user}@{domain}"))
}

/// The host (and port) part of an AOR such as `sip:agent@pbx.example.com:5060;transport=udp`.
fn domain_of(aor: &str) -> Option<&str> {
    let aor = aor.trim().trim_start_matches('<');
    let rest = aor.split_once(':').map_or(aor, |(_, r)| r);
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host
        .split([';', '>', '?'])
        .next()
        .unwrap_or_default()
        .trim();
    (!host.is_empty()).then_some(host)
}

/// Whether two SIP URIs name the same party: the same `user@host:port`, ignoring the scheme,
/// angle brackets, parameters and case.
pub(crate) fn same_party(a: &str, b: &str) -> bool {
    fn key(uri: &str) -> String {
        let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
        let rest = uri.split_once(':').map_or(uri, |(scheme, r)| {
            if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
                r
            } else {
                uri
            }
        });
        rest.split([';', '?', '>'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }
    key(a) == key(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uris_addresses_and_numbers() {
        let aor = Some("sip:a@127.0.0.1:15061");
        assert_eq!(
            dial_target("sip:b@127.0.0.1:15071", aor),
            Ok("sip:b@127.0.0.1:15071".into())
        );
        assert_eq!(
            dial_target("SIPS:b@example.org", None),
            Ok("SIPS:b@example.org".into())
        );
        assert_eq!(
            dial_target(" b@127.0.0.1:15071 ", None),
            Ok("sip:b@127.0.0.1:15071".into())
        );
        assert_eq!(dial_target("b", aor), Ok("sip:b@127.0.0.1:15061".into()));
        assert_eq!(
            dial_target(
                "+1 (415) 555-0100",
                Some("sip:ana@pbx.example.com;transport=tcp")
            ),
            Ok("sip:+14155550100@pbx.example.com".into())
        );
        assert_eq!(
            dial_target("*72#", Some("<sip:ana@pbx.example.com>")),
            Ok("sip:*72%23@pbx.example.com".into())
        );
        assert_eq!(
            dial_target("TEL:+1-415", Some("sip:pbx.example.com")),
            Ok("sip:+1415@pbx.example.com".into())
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let aor = Some("sip:a@h");
        for (input, want) in [
            ("", "phoneNumber: must not be empty"),
            ("sip:b @h", "a SIP URI cannot contain spaces"),
            ("sip:", "the SIP URI has no host"),
            ("@h", "expected USER@HOST"),
            ("12;34", "expected a SIP URI"),
            ("()", "no digits or letters"),
            ("a\nb", "control characters"),
            ("<sip:b@h>", "control characters"),
        ] {
            let err = dial_target(input, aor).unwrap_err().to_string();
            assert!(err.starts_with("phoneNumber: "), "{err}");
            assert!(err.contains(want), "{input:?}: {err}");
        }
        assert_eq!(
            dial_target("1234", None),
            Err(TargetError::NoDomain {
                found: "1234".into()
            })
        );
    }

    #[test]
    fn parties_compare_by_user_host_and_port() {
        assert!(same_party(
            "sip:b@127.0.0.1:15071",
            "<sip:B@127.0.0.1:15071>"
        ));
        assert!(same_party(
            "sip:b@127.0.0.1:15071;transport=udp",
            "sip:b@127.0.0.1:15071"
        ));
        assert!(!same_party(
            "sip:b@127.0.0.1:15071",
            "sip:b@127.0.0.1:15072"
        ));
        assert!(!same_party("sip:b@h", "sip:c@h"));
    }
}
