//! In-process listeners with the Voice Toolkit's JavaScript semantics.
//!
//! `addTelephonyEventListener(type, fn)` registers `fn` once per type however often it is
//! added (identity, not equality, decides), `removeTelephonyEventListener` of a listener that
//! is not registered does nothing, and a listener that throws does not stop the others. Like a
//! DOM `EventTarget`, a dispatch calls the listeners registered when it started, minus any
//! removed while it runs.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use voicetk_events::{Envelope, EventType, TelephonyKind};

use crate::error::{SubscribeError, check_supported, resolve_name};

/// A function called with each event of the types it is registered for.
///
/// A cheap, clonable handle whose identity is its allocation: clones of one `Listener` are the
/// same listener (adding it twice registers it once, removing a clone removes it), while two
/// `Listener::new` calls give two listeners even with identical code — exactly how JavaScript
/// compares function references.
///
/// # Examples
/// ```
/// use voicetk_delivery::{Listener, Listeners};
/// use voicetk_events::TelephonyKind;
///
/// let listeners = Listeners::new(TelephonyKind::Partner);
/// let log = Listener::new(|envelope| println!("{}", envelope.to_json()));
/// assert_eq!(listeners.add_telephony_event_listener("CALL_STARTED", &log), Ok(true));
/// assert_eq!(listeners.add_telephony_event_listener("callstarted", &log.clone()), Ok(false));
/// assert_eq!(listeners.len(), 1);
/// ```
#[derive(Clone)]
pub struct Listener(Arc<dyn Fn(&Envelope) + Send + Sync + 'static>);

impl Listener {
    /// Wraps a function.
    pub fn new(f: impl Fn(&Envelope) + Send + Sync + 'static) -> Listener {
        Listener(Arc::new(f))
    }

    /// Whether `self` and `other` are the same listener (clones of one handle).
    pub fn same_as(&self, other: &Listener) -> bool {
        // Compare the data address only: the vtable half of the fat pointer says nothing
        // about identity.
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }

    fn call(&self, envelope: &Envelope) {
        (self.0)(envelope)
    }
}

impl PartialEq for Listener {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl Eq for Listener {}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Listener")
            .field(&Arc::as_ptr(&self.0).cast::<()>())
            .finish()
    }
}

/// How a listener call names an event type: an Aura or LWC name, or an [`EventType`].
///
/// Built implicitly: every method that takes one accepts `"CALL_STARTED"`, `"callstarted"`,
/// a `&String` or `EventType::CallStarted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName<'a> {
    /// A name as a caller wrote it, Aura (`CALL_STARTED`) or LWC (`callstarted`).
    Name(&'a str),
    /// An already typed event type.
    Type(EventType),
}

impl EventName<'_> {
    /// The event type named, if `telephony` has it.
    ///
    /// # Errors
    /// [`SubscribeError::UnknownType`] for a name that is neither an Aura nor an LWC name;
    /// [`SubscribeError::Unsupported`] for a type `telephony` lacks.
    ///
    /// # Examples
    /// ```
    /// use voicetk_delivery::EventName;
    /// use voicetk_events::{EventType, TelephonyKind};
    /// let hold = EventName::from("hold").resolve(TelephonyKind::Native)?;
    /// assert_eq!(hold, EventType::Hold);
    /// assert!(EventName::from(EventType::Swap).resolve(TelephonyKind::Native).is_err());
    /// # Ok::<(), voicetk_delivery::SubscribeError>(())
    /// ```
    pub fn resolve(self, telephony: TelephonyKind) -> Result<EventType, SubscribeError> {
        match self {
            EventName::Name(name) => resolve_name(name, telephony),
            EventName::Type(event_type) => check_supported(event_type, telephony),
        }
    }
}

impl<'a> From<&'a str> for EventName<'a> {
    fn from(name: &'a str) -> Self {
        EventName::Name(name)
    }
}

impl<'a> From<&'a String> for EventName<'a> {
    fn from(name: &'a String) -> Self {
        EventName::Name(name)
    }
}

impl From<EventType> for EventName<'_> {
    fn from(event_type: EventType) -> Self {
        EventName::Type(event_type)
    }
}

/// One listener registered for one type.
struct Registration {
    listener: Listener,
    /// Set on removal so a dispatch already under way skips it, as a DOM `EventTarget` does.
    removed: AtomicBool,
}

/// The listeners of one type, in registration order. Copy-on-write: a dispatch takes a
/// snapshot (one `Arc` clone) and calls it with no lock held; adding or removing copies the
/// list only while a dispatch still holds the old one.
type Registrations = Arc<Vec<Arc<Registration>>>;

/// The Voice Toolkit listener registry: `addTelephonyEventListener`,
/// `removeTelephonyEventListener` and dispatch, with the JavaScript semantics.
///
/// - Adding a listener already registered for a type does nothing (and returns `Ok(false)`).
/// - Removing one that is not registered does nothing (and returns `Ok(false)`).
/// - Listeners of a type run in registration order; one that panics is logged and the others
///   still run.
/// - Types are named by Aura name, LWC name or [`EventType`]; in native telephony the four
///   types it lacks are refused with `unsupported_event`, on removal as on addition.
///
/// `Listeners` is `Send + Sync`. No lock is held while a listener runs, so a listener may add
/// or remove listeners (itself included), and other threads may do so during a dispatch. A
/// listener added during a dispatch is first called by the next one; a listener removed during
/// a dispatch is not called by it if it has not run yet.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use voicetk_delivery::{Listener, Listeners};
/// use voicetk_events::{Envelope, EventType, TelephonyEvent, TelephonyKind};
///
/// let listeners = Listeners::new(TelephonyKind::Partner);
/// let muted = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&muted);
/// let on_mute = Listener::new(move |_| { counter.fetch_add(1, Ordering::Relaxed); });
/// listeners.add_telephony_event_listener("MUTE", &on_mute)?;
///
/// let mute = Envelope::new(TelephonyEvent::call_only(EventType::Mute, "c1").ok_or("call-only")?);
/// assert_eq!(listeners.dispatch(&mute), 1);
/// listeners.remove_telephony_event_listener("mute", &on_mute)?;
/// assert_eq!(listeners.dispatch(&mute), 0);
/// assert_eq!(muted.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Listeners {
    /// Which types exist; the others are refused.
    telephony: TelephonyKind,
    /// Per type (by [`EventType::index`]), its listeners. The lock is only held to read or
    /// swap a list, never while a listener runs.
    by_type: RwLock<[Registrations; EventType::ALL.len()]>,
}

impl Listeners {
    /// An empty registry for `telephony`.
    pub fn new(telephony: TelephonyKind) -> Listeners {
        Listeners {
            telephony,
            by_type: RwLock::new(std::array::from_fn(|_| Arc::default())),
        }
    }

    /// The telephony whose types this registry accepts.
    pub fn telephony(&self) -> TelephonyKind {
        self.telephony
    }

    /// Registers `listener` for `event` (`addTelephonyEventListener`).
    ///
    /// Returns `Ok(true)` if it was added, `Ok(false)` if it was already registered for that
    /// type (it stays registered once, in its original place).
    ///
    /// # Errors
    /// [`SubscribeError::UnknownType`] for an unknown name; [`SubscribeError::Unsupported`]
    /// for a type this telephony lacks (native: `AUDIO_STATS`, `CALL_STARTED`, `SWAP`,
    /// `WRAP_UP_ENDED`).
    ///
    /// # Examples
    /// ```
    /// use voicetk_delivery::{Listener, Listeners};
    /// use voicetk_events::{EventType, TelephonyKind};
    ///
    /// let listeners = Listeners::new(TelephonyKind::Native);
    /// let l = Listener::new(|_| {});
    /// assert_eq!(listeners.add_telephony_event_listener(EventType::CallConnected, &l), Ok(true));
    /// let err = listeners.add_telephony_event_listener("AUDIO_STATS", &l).unwrap_err();
    /// assert_eq!(err.code(), "unsupported_event");
    /// ```
    pub fn add_telephony_event_listener<'a>(
        &self,
        event: impl Into<EventName<'a>>,
        listener: &Listener,
    ) -> Result<bool, SubscribeError> {
        let event_type = event.into().resolve(self.telephony)?;
        let mut table = self.by_type.write().unwrap_or_else(PoisonError::into_inner);
        let list = &mut table[event_type.index()];
        if list.iter().any(|r| r.listener.same_as(listener)) {
            return Ok(false);
        }
        Arc::make_mut(list).push(Arc::new(Registration {
            listener: listener.clone(),
            removed: AtomicBool::new(false),
        }));
        Ok(true)
    }

    /// Unregisters `listener` from `event` (`removeTelephonyEventListener`).
    ///
    /// Returns `Ok(true)` if it was registered, `Ok(false)` (and does nothing) if not.
    ///
    /// # Errors
    /// The same as [`add_telephony_event_listener`](Self::add_telephony_event_listener): an
    /// unknown name, or a type this telephony lacks.
    ///
    /// # Examples
    /// ```
    /// use voicetk_delivery::{Listener, Listeners};
    /// use voicetk_events::TelephonyKind;
    ///
    /// let listeners = Listeners::new(TelephonyKind::Partner);
    /// let l = Listener::new(|_| {});
    /// listeners.add_telephony_event_listener("wrapupended", &l)?;
    /// assert_eq!(listeners.remove_telephony_event_listener("WRAP_UP_ENDED", &l), Ok(true));
    /// assert_eq!(listeners.remove_telephony_event_listener("WRAP_UP_ENDED", &l), Ok(false));
    /// # Ok::<(), voicetk_delivery::SubscribeError>(())
    /// ```
    pub fn remove_telephony_event_listener<'a>(
        &self,
        event: impl Into<EventName<'a>>,
        listener: &Listener,
    ) -> Result<bool, SubscribeError> {
        let event_type = event.into().resolve(self.telephony)?;
        let mut table = self.by_type.write().unwrap_or_else(PoisonError::into_inner);
        let list = &mut table[event_type.index()];
        let Some(position) = list.iter().position(|r| r.listener.same_as(listener)) else {
            return Ok(false);
        };
        let registration = Arc::make_mut(list).remove(position);
        registration.removed.store(true, Ordering::Release);
        Ok(true)
    }

    /// Calls every listener registered for the envelope's type, in registration order.
    ///
    /// Each call runs inside [`catch_unwind`]: a listener that panics is logged (a
    /// `tracing` warning naming the type) and the others still run. Returns how many
    /// listeners returned normally.
    ///
    /// Listeners run on the calling thread; a listener that blocks holds up the caller.
    pub fn dispatch(&self, envelope: &Envelope) -> usize {
        let event_type = envelope.event_type();
        // The snapshot is taken and the lock released in this one statement.
        let snapshot = Arc::clone(
            &self.by_type.read().unwrap_or_else(PoisonError::into_inner)[event_type.index()],
        );
        let mut ran = 0;
        for registration in snapshot.iter() {
            if registration.removed.load(Ordering::Acquire) {
                continue;
            }
            match catch_unwind(AssertUnwindSafe(|| registration.listener.call(envelope))) {
                Ok(()) => ran += 1,
                Err(payload) => {
                    tracing::warn!(
                        event_type = %event_type,
                        call_id = envelope.call_id(),
                        seq = envelope.seq,
                        panic = panic_message(payload.as_ref()),
                        "telephony event listener panicked; the other listeners still run"
                    );
                }
            }
        }
        ran
    }

    /// How many (type, listener) registrations there are.
    pub fn len(&self) -> usize {
        self.by_type
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|list| list.len())
            .sum()
    }

    /// Whether no listener is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Listeners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listeners")
            .field("telephony", &self.telephony)
            .field("len", &self.len())
            .finish()
    }
}

/// The text of a panic payload, when it has one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::AtomicUsize;
    use std::sync::{Barrier, Mutex, mpsc};
    use std::thread;
    use std::time::Duration;

    use super::*;
    use crate::fixture::envelope;

    /// A listener that counts its calls.
    fn counting() -> (Listener, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        let listener = Listener::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        (listener, count)
    }

    fn started() -> Envelope {
        envelope(1, EventType::CallStarted, "c1", None)
    }

    #[test]
    fn same_listener_twice_is_called_once() {
        let listeners = Listeners::new(TelephonyKind::Partner);
        let (l, count) = counting();
        assert_eq!(
            listeners.add_telephony_event_listener("CALL_STARTED", &l),
            Ok(true)
        );
        assert_eq!(
            listeners.add_telephony_event_listener("CALL_STARTED", &l),
            Ok(false)
        );
        // A clone is the same listener; the LWC name the same type.
        assert_eq!(
            listeners.add_telephony_event_listener("callstarted", &l.clone()),
            Ok(false)
        );
        assert_eq!(listeners.len(), 1);
        assert_eq!(listeners.dispatch(&started()), 1);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn distinct_closures_with_the_same_code_are_distinct_listeners() {
        let listeners = Listeners::new(TelephonyKind::Partner);
        let count = Arc::new(AtomicUsize::new(0));
        let make = || {
            let c = Arc::clone(&count);
            Listener::new(move |_| {
                c.fetch_add(1, Ordering::SeqCst);
            })
        };
        let (a, b) = (make(), make());
        assert_ne!(a, b);
        listeners
            .add_telephony_event_listener("CALL_STARTED", &a)
            .unwrap();
        listeners
            .add_telephony_event_listener("CALL_STARTED", &b)
            .unwrap();
        assert_eq!(listeners.dispatch(&started()), 2);
        assert_eq!(count.load(Ordering::SeqCst), 2);

        // Zero-sized closures too: identity is the allocation, not the code.
        let (z1, z2) = (Listener::new(|_| {}), Listener::new(|_| {}));
        assert_ne!(z1, z2);
    }

    #[test]
    fn one_listener_for_several_types_is_called_only_for_those() {
        let listeners = Listeners::new(TelephonyKind::Partner);
        let (l, count) = counting();
        listeners.add_telephony_event_listener("HOLD", &l).unwrap();
        listeners
            .add_telephony_event_listener("resume", &l)
            .unwrap();
        assert_eq!(listeners.len(), 2);
        listeners.dispatch(&envelope(1, EventType::Hold, "c", None));
        listeners.dispatch(&envelope(2, EventType::Resume, "c", None));
        assert_eq!(
            listeners.dispatch(&envelope(3, EventType::Mute, "c", None)),
            0
        );
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn removing_unknown_is_a_no_op_and_removed_is_not_called() {
        let listeners = Listeners::new(TelephonyKind::Partner);
        let (l, count) = counting();
        let (other, _) = counting();
        assert_eq!(
            listeners.remove_telephony_event_listener("CALL_STARTED", &l),
            Ok(false)
        );
        listeners
            .add_telephony_event_listener("CALL_STARTED", &l)
            .unwrap();
        // Removing another listener, or this one from another type, leaves it registered.
        assert_eq!(
            listeners.remove_telephony_event_listener("CALL_STARTED", &other),
            Ok(false)
        );
        assert_eq!(
            listeners.remove_telephony_event_listener("CALL_ENDED", &l),
            Ok(false)
        );
        assert_eq!(listeners.dispatch(&started()), 1);
        assert_eq!(
            listeners.remove_telephony_event_listener("CALL_STARTED", &l),
            Ok(true)
        );
        assert!(listeners.is_empty());
        assert_eq!(listeners.dispatch(&started()), 0);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn lwc_add_then_aura_remove() {
        let listeners = Listeners::new(TelephonyKind::Partner);
        let (l, count) = counting();
        listeners
            .add_telephony_event_listener("wrapupended", &l)
            .unwrap();
        assert_eq!(
            listeners.remove_telephony_event_listener("WRAP_UP_ENDED", &l),
            Ok(true)
        );
        listeners.dispatch(&envelope(1, EventType::WrapUpEnded, "c", None));
        assert_eq!(count.load(Ordering::SeqCst), 0);
        // And by EventType, and by &String.
        let name = String::from("audiostats");
        listeners.add_telephony_event_listener(&name, &l).unwrap();
        assert_eq!(
            listeners.remove_telephony_event_listener(EventType::AudioStats, &l),
            Ok(true)
        );
    }

    #[test]
    fn registration_order_is_kept_and_re_adding_does_not_move() {
        let listeners = Listeners::new(TelephonyKind::Partner);
        let order = Arc::new(Mutex::new(Vec::new()));
        let named = |name: &'static str| {
            let order = Arc::clone(&order);
            Listener::new(move |_| order.lock().unwrap().push(name))
        };
        let (a, b, c) = (named("a"), named("b"), named("c"));
        for l in [&a, &b, &c, &a] {
            listeners.add_telephony_event_listener("MUTE", l).unwrap();
        }
        listeners.dispatch(&envelope(1, EventType::Mute, "c", None));
        assert_eq!(*order.lock().unwrap(), ["a", "b", "c"]);
    }

    #[test]
    fn a_panicking_listener_does_not_stop_the_others() {
        let listeners = Listeners::new(TelephonyKind::Partner);
        let (before, count_before) = counting();
        let (after, count_after) = counting();
        let bad = Listener::new(|e| panic!("listener bug on {}", e.event_type()));
        for l in [&before, &bad, &after] {
            listeners
                .add_telephony_event_listener("CALL_STARTED", l)
                .unwrap();
        }
        assert_eq!(listeners.dispatch(&started()), 2);
        // The registry is still usable, the panicking listener still registered.
        assert_eq!(listeners.dispatch(&started()), 2);
        assert_eq!(listeners.len(), 3);
        assert_eq!(count_before.load(Ordering::SeqCst), 2);
        assert_eq!(count_after.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn native_refuses_its_missing_types_and_unknown_names() {
        let listeners = Listeners::new(TelephonyKind::Native);
        let (l, _) = counting();
        for name in ["AUDIO_STATS", "callstarted", "SWAP", "WRAP_UP_ENDED"] {
            let err = listeners
                .add_telephony_event_listener(name, &l)
                .unwrap_err();
            assert_eq!(err.code(), "unsupported_event", "{name}");
            assert!(err.to_string().contains("native telephony"), "{err}");
            let err = listeners
                .remove_telephony_event_listener(name, &l)
                .unwrap_err();
            assert_eq!(err.code(), "unsupported_event", "{name}");
        }
        let err = listeners
            .add_telephony_event_listener("CallStarted", &l)
            .unwrap_err();
        assert_eq!(
            err,
            SubscribeError::UnknownType {
                name: "CallStarted".into()
            }
        );
        assert!(listeners.is_empty());
        assert_eq!(
            listeners.add_telephony_event_listener("CALL_CONNECTED", &l),
            Ok(true)
        );
    }

    #[test]
    fn concurrent_dispatch_from_several_threads() {
        let listeners = Arc::new(Listeners::new(TelephonyKind::Partner));
        let (l, count) = counting();
        listeners
            .add_telephony_event_listener("CALL_STARTED", &l)
            .unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let listeners = Arc::clone(&listeners);
                thread::spawn(move || {
                    let e = started();
                    (0..250).map(|_| listeners.dispatch(&e)).sum::<usize>()
                })
            })
            .collect();
        let ran: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(ran, 1000);
        assert_eq!(count.load(Ordering::SeqCst), 1000);
    }

    #[test]
    fn a_listener_may_add_and_remove_listeners_including_itself() {
        let listeners = Arc::new(Listeners::new(TelephonyKind::Partner));
        let (late, late_count) = counting();
        let slot: Arc<Mutex<Option<Listener>>> = Arc::default();
        let self_removing = {
            let listeners = Arc::clone(&listeners);
            let slot = Arc::clone(&slot);
            let late = late.clone();
            Listener::new(move |_| {
                let me = slot.lock().unwrap().clone().unwrap();
                assert_eq!(
                    listeners.remove_telephony_event_listener("CALL_STARTED", &me),
                    Ok(true)
                );
                listeners
                    .add_telephony_event_listener("CALL_STARTED", &late)
                    .unwrap();
            })
        };
        *slot.lock().unwrap() = Some(self_removing.clone());
        listeners
            .add_telephony_event_listener("CALL_STARTED", &self_removing)
            .unwrap();
        // First dispatch: only the self-removing listener; the one it adds waits for the next.
        assert_eq!(listeners.dispatch(&started()), 1);
        assert_eq!(late_count.load(Ordering::SeqCst), 0);
        assert_eq!(listeners.dispatch(&started()), 1);
        assert_eq!(late_count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_listener_removed_during_a_dispatch_is_not_called_by_it() {
        let listeners = Arc::new(Listeners::new(TelephonyKind::Partner));
        let (victim, victim_count) = counting();
        let remover = {
            let listeners = Arc::clone(&listeners);
            let victim = victim.clone();
            Listener::new(move |_| {
                listeners
                    .remove_telephony_event_listener("MUTE", &victim)
                    .unwrap();
            })
        };
        listeners
            .add_telephony_event_listener("MUTE", &remover)
            .unwrap();
        listeners
            .add_telephony_event_listener("MUTE", &victim)
            .unwrap();
        assert_eq!(
            listeners.dispatch(&envelope(1, EventType::Mute, "c", None)),
            1
        );
        assert_eq!(victim_count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn another_thread_adds_and_removes_while_a_listener_runs() {
        let listeners = Arc::new(Listeners::new(TelephonyKind::Partner));
        let inside = Arc::new(Barrier::new(2));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let done_rx = Mutex::new(done_rx);
        let waiting = {
            let inside = Arc::clone(&inside);
            Listener::new(move |_| {
                inside.wait();
                // The other thread needs the write lock to finish; if dispatch held the read
                // lock this would never come. The timeout only turns a deadlock into a failure
                // instead of a hung test run; it is not a timing assertion.
                let finished = done_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(60));
                assert!(finished.is_ok(), "add/remove blocked behind a dispatch");
            })
        };
        listeners
            .add_telephony_event_listener("CALL_STARTED", &waiting)
            .unwrap();
        let other = {
            let listeners = Arc::clone(&listeners);
            thread::spawn(move || {
                inside.wait();
                let (l, _) = counting();
                assert_eq!(
                    listeners.add_telephony_event_listener("CALL_STARTED", &l),
                    Ok(true)
                );
                assert_eq!(
                    listeners.remove_telephony_event_listener("CALL_STARTED", &l),
                    Ok(true)
                );
                done_tx.send(()).unwrap();
            })
        };
        assert_eq!(listeners.dispatch(&started()), 1);
        other.join().unwrap();
    }

    #[test]
    fn listeners_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Listeners>();
        assert_send_sync::<Listener>();
    }
}
