//! Reads: filters, paging, ordering.

use voicetk_events::EventType;
use voicetk_log::{AppendBatch, EventLog, ReadQuery, StoredEvent};

use super::support::{EventSpec, Fixture};

/// 60 events over three calls and two agents (and no agent), cycling through four types.
async fn populated() -> (Fixture, Vec<StoredEvent>) {
    let f = Fixture::new();
    let types = [
        EventType::Hold,
        EventType::Resume,
        EventType::Mute,
        EventType::AudioStats,
    ];
    let events: Vec<StoredEvent> = (1..=60u64)
        .map(|seq| {
            let i = usize::try_from(seq).unwrap();
            EventSpec::new(seq)
                .kind(types[i % 4])
                .call(["call-a", "call-b", "call-c"][i % 3])
                .agent([Some("alice"), Some("bob"), None][i % 5 % 3])
                .build()
        })
        .collect();
    // Several appends, so reads cross commit boundaries.
    for chunk in events.chunks(7) {
        f.log
            .append(AppendBatch::new(chunk.to_vec()))
            .await
            .unwrap();
    }
    (f, events)
}

fn expected(events: &[StoredEvent], query: &ReadQuery) -> Vec<StoredEvent> {
    events
        .iter()
        .filter(|e| query.matches(e))
        .take(query.limit)
        .cloned()
        .collect()
}

#[tokio::test]
async fn each_filter_and_their_combinations_select_the_right_events() {
    let (f, events) = populated().await;
    let queries = [
        ReadQuery::after(0),
        ReadQuery::after(0).with_types([EventType::Hold]),
        ReadQuery::after(0).with_types([EventType::Hold, EventType::AudioStats]),
        ReadQuery::after(0).with_types(EventType::ALL),
        ReadQuery::after(0).with_types([EventType::WrapUpEnded]),
        ReadQuery::after(0).with_call_id("call-b"),
        ReadQuery::after(0).with_call_id("call-z"),
        ReadQuery::after(0).with_agent("alice"),
        ReadQuery::after(0).with_agent("bob"),
        ReadQuery::after(0)
            .with_types([EventType::Mute, EventType::Resume])
            .with_call_id("call-a"),
        ReadQuery::after(0)
            .with_types([EventType::Hold])
            .with_agent("bob")
            .with_call_id("call-c"),
        ReadQuery::after(17)
            .with_call_id("call-a")
            .with_agent("alice")
            .with_limit(3),
    ];
    for query in queries {
        let got = f.log.read(query.clone()).await.unwrap();
        assert_eq!(got, expected(&events, &query), "{query:?}");
    }
    // The fixture really spreads the filters (so the checks above are not vacuous).
    let holds = f
        .log
        .read(ReadQuery::after(0).with_types([EventType::Hold]))
        .await
        .unwrap();
    assert_eq!(holds.len(), 15);
    assert!(holds.iter().all(|e| e.event_type == EventType::Hold));
    let alice = f
        .log
        .read(ReadQuery::after(0).with_agent("alice"))
        .await
        .unwrap();
    assert!(!alice.is_empty() && alice.len() < 60);
    assert!(alice.iter().all(|e| e.agent.as_deref() == Some("alice")));
}

#[tokio::test]
async fn paging_with_after_and_limit_walks_the_log_in_order() {
    let (f, events) = populated().await;
    let mut after = 0;
    let mut pages = Vec::new();
    loop {
        let page = f
            .log
            .read(ReadQuery::after(after).with_limit(8))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 8);
        after = last.seq;
        pages.push(page);
    }
    assert_eq!(pages.len(), 8);
    let walked: Vec<StoredEvent> = pages.into_iter().flatten().collect();
    assert_eq!(walked, events);

    // Paging a filtered view.
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = f
            .log
            .read(ReadQuery::after(after).with_call_id("call-c").with_limit(4))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        seen.extend(page.into_iter().map(|e| e.seq));
    }
    let want: Vec<u64> = events
        .iter()
        .filter(|e| e.call_id == "call-c")
        .map(|e| e.seq)
        .collect();
    assert_eq!(seen, want);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn void_and_out_of_range_queries_return_nothing() {
    let (f, _) = populated().await;
    assert!(f.log.read(ReadQuery::after(60)).await.unwrap().is_empty());
    assert!(
        f.log
            .read(ReadQuery::after(u64::MAX))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        f.log
            .read(ReadQuery::after(0).with_limit(0))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        f.log
            .read(ReadQuery::after(0).with_types([]))
            .await
            .unwrap()
            .is_empty()
    );
    let last = f.log.read(ReadQuery::after(59)).await.unwrap();
    assert_eq!(last.iter().map(|e| e.seq).collect::<Vec<_>>(), [60]);
}

#[tokio::test]
async fn event_ids_are_found_by_exact_match() {
    let f = Fixture::new();
    f.log
        .append(AppendBatch::new(vec![
            EventSpec::new(1).id("a-1").build(),
            EventSpec::new(2).build(),
            EventSpec::new(3).id("A-1").build(),
        ]))
        .await
        .unwrap();
    assert_eq!(f.log.find_event_id("a-1").await.unwrap(), Some(1));
    assert_eq!(f.log.find_event_id("A-1").await.unwrap(), Some(3));
    assert_eq!(f.log.find_event_id("a-").await.unwrap(), None);
    assert_eq!(f.log.find_event_id("").await.unwrap(), None);
}
