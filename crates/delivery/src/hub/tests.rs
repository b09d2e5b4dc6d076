//! Hub and subscription behaviour: filtering, order, sharing, the lag policy, ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use futures::stream::FusedStream;
use futures::{FutureExt, StreamExt};
use voicetk_events::EventType;

use super::*;
use crate::fixture::delivered;
use crate::{Lagged, Listener};

type Item = Result<Arc<Delivered>, Lagged>;

/// Everything a subscription can yield without waiting: `Some(item)` per item, and a final
/// `None` if the stream ended.
fn drain(sub: &mut Subscription) -> Vec<Option<Item>> {
    let mut out = Vec::new();
    while let Some(next) = sub.recv().now_or_never() {
        let end = next.is_none();
        out.push(next);
        if end {
            break;
        }
    }
    out
}

/// The seqs of the events among `items`, which must all be `Ok`.
fn seqs(items: &[Option<Item>]) -> Vec<u64> {
    items
        .iter()
        .map(|i| i.as_ref().unwrap().as_ref().unwrap().seq)
        .collect()
}

fn hub(capacity: usize) -> Hub {
    Hub::new(HubConfig::default().capacity(capacity))
}

#[test]
fn filters_by_type_call_and_agent() {
    let hub = hub(64);
    let mut all = hub.subscribe(Filter::all());
    let mut holds = hub.subscribe(Filter::all().types([EventType::Hold, EventType::Resume]));
    let mut call_b = hub.subscribe(Filter::all().call_id("b"));
    let mut alice = hub.subscribe(Filter::all().agent("alice"));
    let mut alice_holds_a = hub.subscribe(
        Filter::all()
            .agent("alice")
            .call_id("a")
            .types([EventType::Hold]),
    );
    assert_eq!(hub.subscriber_count(), 5);

    let events = [
        (EventType::CallConnected, "a", Some("alice")),
        (EventType::Hold, "a", Some("alice")),
        (EventType::Hold, "b", Some("bob")),
        (EventType::Mute, "b", None),
        (EventType::Resume, "a", Some("alice")),
        (EventType::Hold, "c", None),
    ];
    for (i, (t, call, agent)) in events.into_iter().enumerate() {
        hub.publish(delivered(i as u64 + 1, t, call, agent));
    }
    assert_eq!(seqs(&drain(&mut all)), [1, 2, 3, 4, 5, 6]);
    assert_eq!(seqs(&drain(&mut holds)), [2, 3, 5, 6]);
    assert_eq!(seqs(&drain(&mut call_b)), [3, 4]);
    assert_eq!(seqs(&drain(&mut alice)), [1, 2, 5]);
    assert_eq!(seqs(&drain(&mut alice_holds_a)), [2]);
}

#[test]
fn subscribers_share_one_event_and_one_serialization() {
    let hub = hub(8);
    let mut a = hub.subscribe(Filter::all());
    let mut b = hub.subscribe(Filter::all().call_id("c1"));
    let event = delivered(1, EventType::CallEnded, "c1", None);
    hub.publish(Arc::clone(&event));
    let got_a = a.recv().now_or_never().flatten().unwrap().unwrap();
    let got_b = b.recv().now_or_never().flatten().unwrap().unwrap();
    assert!(Arc::ptr_eq(&got_a, &event));
    assert!(Arc::ptr_eq(&got_a, &got_b));
    assert_eq!(got_a.json.as_ptr(), got_b.json.as_ptr());
    assert_eq!(&got_a.json[..], event.envelope.to_json().as_bytes());
}

#[test]
fn a_subscription_starts_with_the_next_event() {
    let hub = hub(8);
    hub.publish(delivered(5, EventType::Mute, "c", None));
    let mut late = hub.subscribe(Filter::all());
    assert_eq!(late.last_seq(), 5);
    hub.publish(delivered(9, EventType::Unmute, "c", None));
    assert_eq!(seqs(&drain(&mut late)), [9]);
    assert_eq!(late.last_seq(), 9);
    assert_eq!(hub.last_seq(), 9);
}

#[test]
fn a_stalled_subscriber_lags_once_and_ends_while_others_get_everything() {
    const N: usize = 5; // deliberately not a power of two: the capacity is exact
    const K: u64 = 3;
    let hub = hub(N);
    let mut stalled = hub.subscribe(Filter::all());
    let mut keeping_up = hub.subscribe(Filter::all());
    let mut received = Vec::new();
    for seq in 1..=N as u64 + K {
        hub.publish(delivered(seq, EventType::Mute, "c", None));
        received.extend(seqs(&drain(&mut keeping_up)));
    }
    assert_eq!(received, (1..=N as u64 + K).collect::<Vec<_>>());
    assert!(stalled.is_lagged());
    assert!(!keeping_up.is_lagged());

    let items = drain(&mut stalled);
    assert_eq!(seqs(&items[..N]), (1..=N as u64).collect::<Vec<_>>());
    assert_eq!(
        items[N..],
        [
            Some(Err(Lagged {
                last_seq: N as u64,
                missed: K
            })),
            None
        ]
    );
    // Ended for good, and detached from the hub.
    assert!(stalled.recv().now_or_never().unwrap().is_none());
    assert!(stalled.is_terminated());
    assert_eq!(hub.subscriber_count(), 1);

    // The one that kept up still works.
    hub.publish(delivered(100, EventType::Mute, "c", None));
    assert_eq!(seqs(&drain(&mut keeping_up)), [100]);
}

#[test]
fn missed_counts_only_matching_events_until_the_lag_is_read() {
    let hub = hub(1);
    let mut sub = hub.subscribe(Filter::all().call_id("a"));
    hub.publish(delivered(1, EventType::Mute, "a", None)); // buffered
    hub.publish(delivered(2, EventType::Mute, "a", None)); // overflow: missed 1
    hub.publish(delivered(3, EventType::Mute, "b", None)); // not wanted
    hub.publish(delivered(4, EventType::Mute, "a", None)); // missed 2
    let items = drain(&mut sub);
    assert_eq!(seqs(&items[..1]), [1]);
    assert_eq!(
        items[1..],
        [
            Some(Err(Lagged {
                last_seq: 1,
                missed: 2
            })),
            None
        ]
    );
}

#[test]
fn a_narrow_subscriber_is_not_lagged_by_other_traffic() {
    let hub = hub(2);
    let mut mine = hub.subscribe(Filter::all().call_id("mine"));
    for seq in 1..=1000 {
        hub.publish(delivered(seq, EventType::Mute, "other", None));
    }
    hub.publish(delivered(1001, EventType::Hold, "mine", None));
    assert!(!mine.is_lagged());
    assert_eq!(seqs(&drain(&mut mine)), [1001]);
}

#[test]
fn publish_never_blocks_on_stalled_subscribers() {
    // Nothing reads these; if publish waited for room, this test would never finish.
    let hub = hub(16);
    let stalled: Vec<_> = (0..8).map(|_| hub.subscribe(Filter::all())).collect();
    for seq in 1..=10_000 {
        hub.publish(delivered(seq, EventType::AudioStats, "c", None));
    }
    assert_eq!(hub.last_seq(), 10_000);
    assert!(stalled.iter().all(Subscription::is_lagged));
}

#[test]
fn listeners_run_before_subscribers_are_fed() {
    let hub = hub(8);
    let order = Arc::new(Mutex::new(Vec::new()));
    let sub = Arc::new(Mutex::new(hub.subscribe(Filter::all())));
    let listener = {
        let order = Arc::clone(&order);
        let sub = Arc::clone(&sub);
        Listener::new(move |envelope| {
            // The subscriber has nothing yet while the listener runs.
            let pending = sub.lock().unwrap().recv().now_or_never().is_none();
            order.lock().unwrap().push((envelope.seq, pending));
        })
    };
    hub.listeners()
        .add_telephony_event_listener("PAUSE_RECORDING", &listener)
        .unwrap();
    hub.publish(delivered(1, EventType::PauseRecording, "c", None));
    hub.publish(delivered(2, EventType::ResumeRecording, "c", None));
    assert_eq!(*order.lock().unwrap(), [(Some(1), true)]);
    assert_eq!(seqs(&drain(&mut sub.lock().unwrap())), [1, 2]);
}

#[test]
fn a_listener_may_subscribe_during_publish() {
    let hub = hub(8);
    let made: Arc<Mutex<Vec<Subscription>>> = Arc::default();
    let listener = {
        let hub = hub.clone();
        let made = Arc::clone(&made);
        Listener::new(move |_| made.lock().unwrap().push(hub.subscribe(Filter::all())))
    };
    hub.listeners()
        .add_telephony_event_listener("mute", &listener)
        .unwrap();
    hub.publish(delivered(1, EventType::Mute, "c", None));
    hub.publish(delivered(2, EventType::Unmute, "c", None));
    // Subscribed while seq 1 was being published, before subscribers were fed: it gets it.
    let mut sub = made.lock().unwrap().pop().unwrap();
    assert_eq!(sub.last_seq(), 0);
    assert_eq!(seqs(&drain(&mut sub)), [1, 2]);
}

#[test]
fn out_of_order_publish_is_refused() {
    let hub = hub(8);
    let mut sub = hub.subscribe(Filter::all());
    hub.publish(delivered(2, EventType::Mute, "c", None));
    for stale in [2, 1] {
        // A debug assertion in debug builds; ignored with a warning in release builds.
        let result = catch_unwind(AssertUnwindSafe(|| {
            hub.publish(delivered(stale, EventType::Unmute, "c", None))
        }));
        assert_eq!(result.is_err(), cfg!(debug_assertions));
    }
    assert_eq!(hub.last_seq(), 2);
    hub.publish(delivered(3, EventType::Unmute, "c", None));
    assert_eq!(seqs(&drain(&mut sub)), [2, 3]);
}

#[test]
fn dropping_a_subscription_detaches_it() {
    let hub = hub(8);
    let a = hub.subscribe(Filter::all());
    let b = hub.subscribe(Filter::all());
    assert_eq!(hub.subscriber_count(), 2);
    drop(a);
    assert_eq!(hub.subscriber_count(), 1);
    drop(b);
    assert_eq!(hub.subscriber_count(), 0);
    hub.publish(delivered(1, EventType::Mute, "c", None));
}

#[test]
fn subscriptions_end_after_their_buffer_when_the_hub_goes() {
    let hub = hub(8);
    let mut sub = hub.subscribe(Filter::all());
    hub.publish(delivered(1, EventType::Mute, "c", None));
    drop(hub);
    let items = drain(&mut sub);
    assert_eq!(seqs(&items[..1]), [1]);
    assert!(items[1].is_none());
}

#[test]
fn close_ends_subscriptions_and_refuses_new_ones() {
    let hub = hub(8);
    let mut sub = hub.subscribe(Filter::all());
    let clone = hub.clone();
    hub.publish(delivered(1, EventType::Mute, "c", None));
    clone.close();
    assert!(hub.is_closed());
    assert_eq!(hub.subscriber_count(), 0);
    hub.publish(delivered(2, EventType::Unmute, "c", None));
    let items = drain(&mut sub);
    assert_eq!(seqs(&items[..1]), [1]);
    assert!(items[1].is_none());
    let mut late = hub.subscribe(Filter::all());
    assert_eq!(drain(&mut late), [None]);
    assert_eq!(hub.last_seq(), 1);
}

#[test]
fn capacity_is_clamped() {
    assert_eq!(hub(0).capacity(), 1);
    assert_eq!(hub(usize::MAX).capacity(), HubConfig::MAX_CAPACITY);
    assert_eq!(HubConfig::default().capacity, 1024);
}

#[tokio::test]
async fn an_awaiting_subscriber_is_woken_by_publish() {
    let hub = hub(4);
    let sub = hub.subscribe(Filter::all().types([EventType::Hold]));
    let reader = tokio::spawn(async move {
        sub.map(|item| item.map(|d| d.seq))
            .collect::<Vec<_>>()
            .await
    });
    // Let the reader park on its empty queue first.
    tokio::task::yield_now().await;
    for seq in 1..=6 {
        let t = if seq % 2 == 0 {
            EventType::Hold
        } else {
            EventType::Resume
        };
        hub.publish(delivered(seq, t, "c", None));
        tokio::task::yield_now().await;
    }
    drop(hub);
    assert_eq!(reader.await.unwrap(), [Ok(2), Ok(4), Ok(6)]);
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Hub>();
    assert_send_sync::<Subscription>();
    assert_send_sync::<Arc<Delivered>>();
}
