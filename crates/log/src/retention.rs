//! How much history the log keeps.

use std::time::Duration;

/// Which events [`EventLog::apply_retention`](crate::EventLog::apply_retention) may delete.
/// The default keeps everything.
///
/// Retention only ever removes the oldest events (a prefix of the log), so everything between
/// [`first_seq`](crate::EventLog::first_seq) and `last_seq` stays readable without holes, and it
/// never removes the newest event. An event goes when either limit says so.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use voicetk_log::Retention;
///
/// let week = Retention::default()
///     .with_max_age(Duration::from_secs(7 * 24 * 3600))
///     .with_max_events(10_000_000);
/// assert!(!week.keeps_all());
/// assert!(Retention::default().keeps_all());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete events accepted longer than this ago. Default is no age limit.
    pub max_age: Option<Duration>,
    /// Keep at most this many of the newest events (at least one is always kept). Default is no
    /// count limit.
    pub max_events: Option<u64>,
}

impl Retention {
    /// Sets the age limit.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Retention {
        self.max_age = Some(max_age);
        self
    }

    /// Sets the count limit.
    #[must_use]
    pub fn with_max_events(mut self, max_events: u64) -> Retention {
        self.max_events = Some(max_events);
        self
    }

    /// Whether the policy never deletes anything.
    pub fn keeps_all(&self) -> bool {
        self.max_age.is_none() && self.max_events.is_none()
    }

    /// The instant before which events are too old at `now`, if there is an age limit. An age
    /// reaching before the earliest representable instant sets no limit.
    pub fn cutoff(&self, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        self.max_age.and_then(|age| now.checked_sub(age).ok())
    }

    /// The highest seq to delete (with everything before it), given the newest seq held and
    /// the oldest seq whose timestamp is not before [`cutoff`](Self::cutoff) (`None` when every
    /// event is older). 0 means delete nothing.
    ///
    /// By age, the cut stops at the first young event even if older ones follow it (clocks
    /// step back), because retention removes a prefix, never holes.
    pub(crate) fn prune_through(
        &self,
        newest: u64,
        first_young: Option<u64>,
        has_cutoff: bool,
    ) -> u64 {
        let by_count = self
            .max_events
            .map_or(0, |keep| newest.saturating_sub(keep.max(1)));
        let by_age = if has_cutoff {
            first_young.map_or(newest, |seq| seq.saturating_sub(1))
        } else {
            0
        };
        by_count.max(by_age).min(newest.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_all_deletes_nothing() {
        let keep = Retention::default();
        assert_eq!(keep.prune_through(100, None, false), 0);
        assert_eq!(keep.cutoff(jiff::Timestamp::UNIX_EPOCH), None);
    }

    #[test]
    fn count_keeps_the_newest_and_at_least_one() {
        let ten = Retention::default().with_max_events(10);
        assert_eq!(ten.prune_through(100, None, false), 90);
        assert_eq!(ten.prune_through(5, None, false), 0);
        let none = Retention::default().with_max_events(0);
        assert_eq!(none.prune_through(100, None, false), 99);
        assert_eq!(none.prune_through(0, None, false), 0);
    }

    #[test]
    fn age_cuts_before_the_first_young_event_and_never_the_newest() {
        let day = Retention::default().with_max_age(Duration::from_secs(86_400));
        assert_eq!(day.prune_through(100, Some(71), true), 70);
        assert_eq!(day.prune_through(100, Some(1), true), 0);
        // Everything is old: all but the newest go.
        assert_eq!(day.prune_through(100, None, true), 99);
        // Both limits: the stricter wins.
        let both = day.with_max_events(10);
        assert_eq!(both.prune_through(100, Some(71), true), 90);
        assert_eq!(both.prune_through(100, Some(95), true), 94);
    }

    #[test]
    fn cutoff_subtracts_the_age() {
        let now: jiff::Timestamp = "2025-03-01T12:00:00Z".parse().unwrap_or_default();
        let hour = Retention::default().with_max_age(Duration::from_secs(3600));
        assert_eq!(
            hour.cutoff(now).map(|t| t.to_string()),
            Some("2025-03-01T11:00:00Z".to_owned())
        );
        let forever = Retention::default().with_max_age(Duration::MAX);
        assert_eq!(forever.cutoff(now), None);
    }
}
