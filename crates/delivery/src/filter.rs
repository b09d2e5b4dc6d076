//! What a subscriber wants to receive.

use voicetk_events::{EventType, TelephonyKind};

use crate::delivered::Delivered;
use crate::error::{SubscribeError, resolve_name};

/// Which events a subscription receives. Every criterion that is set must match; the empty
/// filter ([`Filter::all`], the default) matches everything.
///
/// - `types`: the event's type is one of these. `None` = any type; `Some(vec![])` matches
///   nothing.
/// - `call_id`: the event's `detail.callId` equals it.
/// - `agent`: the event's top-level `agent` equals it. An agent-scoped filter matches only
///   events whose agent is known and equal: events with no agent are not that agent's.
///
/// # Examples
/// ```
/// use voicetk_delivery::Filter;
/// use voicetk_events::{EventType, TelephonyKind};
///
/// let filter = Filter::from_names(TelephonyKind::Partner, &["HOLD", "resume"])?
///     .call_id("c1")
///     .agent("alice");
/// assert_eq!(filter.types, Some(vec![EventType::Hold, EventType::Resume]));
/// assert_eq!(filter.call_id.as_deref(), Some("c1"));
/// # Ok::<(), voicetk_delivery::SubscribeError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The types wanted; `None` for all.
    pub types: Option<Vec<EventType>>,
    /// The one call wanted; `None` for all calls.
    pub call_id: Option<String>,
    /// The one agent whose events are wanted; `None` for all agents.
    pub agent: Option<String>,
}

impl Filter {
    /// The filter that matches every event.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// A filter on the named types (Aura or LWC names). No names means all types.
    ///
    /// # Errors
    /// [`SubscribeError::UnknownType`] for the first unknown name;
    /// [`SubscribeError::Unsupported`] for the first type `telephony` lacks.
    ///
    /// # Examples
    /// ```
    /// use voicetk_delivery::Filter;
    /// use voicetk_events::TelephonyKind;
    ///
    /// assert_eq!(Filter::from_names(TelephonyKind::Partner, &[])?, Filter::all());
    /// let err = Filter::from_names(TelephonyKind::Partner, &["HOLD", "hold_on"]).unwrap_err();
    /// assert_eq!(err.code(), "unknown_event_type");
    /// # Ok::<(), voicetk_delivery::SubscribeError>(())
    /// ```
    pub fn from_names(telephony: TelephonyKind, names: &[&str]) -> Result<Filter, SubscribeError> {
        if names.is_empty() {
            return Ok(Filter::all());
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let event_type = resolve_name(name, telephony)?;
            if !types.contains(&event_type) {
                types.push(event_type);
            }
        }
        Ok(Filter {
            types: Some(types),
            ..Filter::default()
        })
    }

    /// Restricts the filter to `types`.
    pub fn types(mut self, types: impl IntoIterator<Item = EventType>) -> Filter {
        self.types = Some(types.into_iter().collect());
        self
    }

    /// Restricts the filter to one call.
    pub fn call_id(mut self, call_id: impl Into<String>) -> Filter {
        self.call_id = Some(call_id.into());
        self
    }

    /// Restricts the filter to one agent's events.
    pub fn agent(mut self, agent: impl Into<String>) -> Filter {
        self.agent = Some(agent.into());
        self
    }

    /// Whether `delivered` is wanted.
    pub fn matches(&self, delivered: &Delivered) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.contains(&delivered.event_type))
            && self
                .call_id
                .as_ref()
                .is_none_or(|call_id| *call_id == delivered.call_id)
            && self
                .agent
                .as_ref()
                .is_none_or(|agent| delivered.agent.as_ref() == Some(agent))
    }

    /// Whether this filter matches every event.
    pub fn is_all(&self) -> bool {
        *self == Filter::all()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::fixture::delivered;

    #[test]
    fn empty_filter_matches_everything() {
        let all = Filter::all();
        assert!(all.is_all());
        for t in EventType::ALL {
            assert!(all.matches(&delivered(1, t, "c", None)));
            assert!(all.matches(&delivered(1, t, "c", Some("a"))));
        }
    }

    #[test]
    fn every_criterion_must_match() {
        let f = Filter::all()
            .types([EventType::Hold, EventType::Resume])
            .call_id("c1")
            .agent("alice");
        assert!(f.matches(&delivered(1, EventType::Hold, "c1", Some("alice"))));
        assert!(!f.matches(&delivered(1, EventType::Mute, "c1", Some("alice"))));
        assert!(!f.matches(&delivered(1, EventType::Hold, "c2", Some("alice"))));
        assert!(!f.matches(&delivered(1, EventType::Hold, "c1", Some("bob"))));
        assert!(!f.matches(&delivered(1, EventType::Hold, "c1", None)));
        assert!(
            !Filter::all()
                .types([])
                .matches(&delivered(1, EventType::Hold, "c1", None))
        );
    }

    #[test]
    fn agent_scope_excludes_events_without_agent() {
        let f = Filter::all().agent("alice");
        assert!(f.matches(&delivered(1, EventType::Mute, "c", Some("alice"))));
        assert!(!f.matches(&delivered(1, EventType::Mute, "c", None)));
    }

    #[test]
    fn from_names_reads_both_namings_and_deduplicates() {
        let f = Filter::from_names(
            TelephonyKind::Partner,
            &["CALL_STARTED", "callstarted", "audiostats"],
        )
        .unwrap();
        assert_eq!(
            f.types,
            Some(vec![EventType::CallStarted, EventType::AudioStats])
        );
    }

    #[test]
    fn from_names_refuses_unknown_and_native_unsupported() {
        let err = Filter::from_names(TelephonyKind::Partner, &["MUTE", "Mute"]).unwrap_err();
        assert_eq!(
            err,
            SubscribeError::UnknownType {
                name: "Mute".into()
            }
        );
        for name in ["AUDIO_STATS", "CALL_STARTED", "swap", "wrapupended"] {
            let err = Filter::from_names(TelephonyKind::Native, &["HOLD", name]).unwrap_err();
            assert_eq!(err.code(), "unsupported_event", "{name}");
            assert!(Filter::from_names(TelephonyKind::Partner, &[name]).is_ok());
        }
        assert!(Filter::from_names(TelephonyKind::Native, &["CALL_CONNECTED"]).is_ok());
    }
}
