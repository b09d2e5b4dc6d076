//! Which stored events a reader wants.

use voicetk_events::EventType;

use crate::event::StoredEvent;

/// A page of history: events with `seq > after` that match every filter set, oldest first, at
/// most `limit` of them.
///
/// To page through the log, ask again with `after` set to the last seq received.
///
/// # Examples
/// ```
/// use voicetk_events::EventType;
/// use voicetk_log::ReadQuery;
///
/// let query = ReadQuery::after(120)
///     .with_limit(50)
///     .with_types([EventType::Hold, EventType::Resume])
///     .with_call_id("4ba06a63");
/// assert_eq!((query.after, query.limit), (120, 50));
/// assert_eq!(query.agent, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadQuery {
    /// Only events with a greater seq; 0 reads from the start.
    pub after: u64,
    /// At most this many events. 0 reads nothing.
    pub limit: usize,
    /// Only these types; `None` for all. An empty list matches nothing.
    pub types: Option<Vec<EventType>>,
    /// Only this call's events.
    pub call_id: Option<String>,
    /// Only this agent's events.
    pub agent: Option<String>,
}

impl ReadQuery {
    /// The page size of [`ReadQuery::after`] and `Default`.
    pub const DEFAULT_LIMIT: usize = 1000;

    /// Every event after `after`, [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) at a time.
    pub fn after(after: u64) -> ReadQuery {
        ReadQuery {
            after,
            limit: Self::DEFAULT_LIMIT,
            types: None,
            call_id: None,
            agent: None,
        }
    }

    /// Sets the most events to return.
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> ReadQuery {
        self.limit = limit;
        self
    }

    /// Keeps only events of these types.
    #[must_use]
    pub fn with_types(mut self, types: impl IntoIterator<Item = EventType>) -> ReadQuery {
        self.types = Some(types.into_iter().collect());
        self
    }

    /// Keeps only this call's events.
    #[must_use]
    pub fn with_call_id(mut self, call_id: impl Into<String>) -> ReadQuery {
        self.call_id = Some(call_id.into());
        self
    }

    /// Keeps only this agent's events.
    #[must_use]
    pub fn with_agent(mut self, agent: impl Into<String>) -> ReadQuery {
        self.agent = Some(agent.into());
        self
    }

    /// Whether `event` passes the filters (`after` included, `limit` aside). Implementations
    /// that cannot filter in the store use it; the SQLite log filters in SQL.
    pub fn matches(&self, event: &StoredEvent) -> bool {
        event.seq > self.after
            && self
                .types
                .as_ref()
                .is_none_or(|types| types.contains(&event.event_type))
            && self
                .call_id
                .as_ref()
                .is_none_or(|call| *call == event.call_id)
            && self
                .agent
                .as_ref()
                .is_none_or(|agent| event.agent.as_ref() == Some(agent))
    }

    /// Whether no event can match, so a store need not be asked.
    pub fn is_void(&self) -> bool {
        self.limit == 0 || self.types.as_ref().is_some_and(Vec::is_empty)
    }
}

impl Default for ReadQuery {
    /// Every event from the start, [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) at a time.
    fn default() -> Self {
        ReadQuery::after(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, event_type: EventType, call: &str, agent: Option<&str>) -> StoredEvent {
        StoredEvent {
            seq,
            timestamp: jiff::Timestamp::UNIX_EPOCH,
            event_type,
            call_id: call.into(),
            agent: agent.map(Into::into),
            event_id: None,
            json: String::from("{}"),
        }
    }

    #[test]
    fn filters_combine() {
        let hold = event(5, EventType::Hold, "c1", Some("alice"));
        assert!(ReadQuery::default().matches(&hold));
        assert!(!ReadQuery::after(5).matches(&hold));
        assert!(ReadQuery::after(4).matches(&hold));
        let q = ReadQuery::default()
            .with_types([EventType::Hold])
            .with_call_id("c1")
            .with_agent("alice");
        assert!(q.matches(&hold));
        assert!(!q.clone().with_agent("bob").matches(&hold));
        assert!(!q.clone().with_call_id("c2").matches(&hold));
        assert!(!q.with_types([EventType::Mute]).matches(&hold));
        let no_agent = event(6, EventType::Hold, "c1", None);
        assert!(!ReadQuery::default().with_agent("alice").matches(&no_agent));
    }

    #[test]
    fn void_queries() {
        assert!(!ReadQuery::default().is_void());
        assert!(ReadQuery::default().with_limit(0).is_void());
        assert!(ReadQuery::default().with_types([]).is_void());
        assert_eq!(ReadQuery::default().limit, ReadQuery::DEFAULT_LIMIT);
    }
}
