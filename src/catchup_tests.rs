use std::time::Duration;

use super::*;
use crate::channel::store::{PostOptions, Role};
use crate::channel::{Draft, Store, Theme};
use crate::query::Grep;

fn a(name: &str) -> Author {
    Author::new(name).unwrap()
}

fn channel(dir: &std::path::Path) -> Channel {
    let store = Store::create(dir).unwrap();
    let roles = ["pipeline", "data-plane", "traffic"]
        .iter()
        .map(|n| Role {
            name: a(n),
            title: None,
            lane: None,
        })
        .collect();
    store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("t").unwrap(),
            roles,
        )
        .unwrap()
}

fn post(ch: &Channel, author: &str, kind: Kind, to: &[&str], body: &str) -> String {
    let opts = PostOptions {
        sync: false,
        ..PostOptions::default()
    };
    let draft = Draft {
        kind,
        to: to.iter().map(|r| a(r)).collect(),
        body: body.into(),
        ..Draft::default()
    };
    ch.post(&a(author), &draft, &opts)
        .unwrap()
        .entry
        .id
        .to_string()
}

fn ids<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<String> {
    entries.into_iter().map(|e| e.id.to_string()).collect()
}

#[test]
fn addressed_entries_come_first_and_the_cursor_moves_only_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let ch = channel(dir.path());
    post(&ch, "pipeline", Kind::Observation, &[], "one");
    post(
        &ch,
        "data-plane",
        Kind::Question,
        &["traffic"],
        "for traffic",
    );
    post(&ch, "traffic", Kind::Note, &[], "mine");
    post(
        &ch,
        "pipeline",
        Kind::Alert,
        &["operator", "traffic"],
        "loud",
    );
    post(
        &ch,
        "pipeline",
        Kind::Note,
        &["operator"],
        "not for traffic",
    );

    let traffic = a("traffic");
    let (pending, news) = catchup(&ch, &traffic, |p| panic!("{p}")).unwrap();
    assert_eq!(ids(&news.addressed), ["data-plane#1", "pipeline#2"]);
    assert_eq!(ids(&news.others), ["pipeline#1", "pipeline#3"]);
    assert_eq!(
        ids(news.entries()),
        ["data-plane#1", "pipeline#2", "pipeline#1", "pipeline#3"]
    );
    assert_eq!(news.cursor.to_string(), "data-plane:1,pipeline:3");
    let c = count(&ch, &traffic).unwrap();
    assert_eq!((c.new, c.alerts, c.addressed), (4, 1, 2));
    assert_eq!(
        c.to_string(),
        "4 new (1 alert, 2 to traffic) in 2026-05-04--t"
    );

    // Not read yet: the same again. Then read: nothing.
    let (_, again) = catchup(&ch, &traffic, |_| {}).unwrap();
    assert_eq!(again.len(), 4);
    // Written after the catchup was opened: waits for the next one.
    post(&ch, "data-plane", Kind::Note, &[], "later");
    pending.mark_read().unwrap();
    let (pending, news) = catchup(&ch, &traffic, |_| {}).unwrap();
    assert_eq!(ids(news.entries()), ["data-plane#2"]);
    assert_eq!(
        count(&ch, &traffic).unwrap().to_string(),
        "1 new in 2026-05-04--t"
    );
    pending.mark_read().unwrap();
    let (pending, news) = catchup(&ch, &traffic, |_| {}).unwrap();
    assert!(news.is_empty() && pending.is_empty());
    assert_eq!(count(&ch, &traffic).unwrap().new, 0);
    // Another role's cursor is its own.
    assert_eq!(count(&ch, &a("pipeline")).unwrap().new, 3);
}

#[test]
fn a_reader_not_on_the_roster_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ch = channel(dir.path());
    let err = catchup(&ch, &a("trafic"), |_| {}).unwrap_err();
    assert!(matches!(err, Error::NotOnRoster { .. }), "{err}");
    assert!(matches!(
        count(&ch, &a("trafic")).unwrap_err(),
        Error::NotOnRoster { .. }
    ));
}

#[test]
fn count_reads_back_only_as_far_as_the_cursor_and_agrees_with_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let ch = channel(dir.path());
    // Bodies of varied size, so the windows from the end cut entries at every kind of place.
    for i in 0..1500u64 {
        let kind = if i % 7 == 0 {
            Kind::Alert
        } else {
            Kind::Observation
        };
        let to: &[&str] = if i % 5 == 0 { &["traffic"] } else { &[] };
        let body = format!("entry {i} {}", "x".repeat((i as usize * 37) % 900));
        post(
            &ch,
            if i % 3 == 0 { "data-plane" } else { "pipeline" },
            kind,
            to,
            &body,
        );
    }
    let traffic = a("traffic");
    for (dp, pl) in [
        (0, 0),
        (1, 1),
        (400, 20),
        (499, 999),
        (500, 1000),
        (10, 990),
    ] {
        let mut stored = std::collections::BTreeMap::new();
        stored.insert("data-plane".to_owned(), dp);
        stored.insert("pipeline".to_owned(), pl);
        ch.set_cursor(&traffic, &stored).unwrap();
        let (_, news) = catchup(&ch, &traffic, |_| {}).unwrap();
        let expect = Count {
            channel: ch.name().to_string(),
            reader: "traffic".into(),
            new: news.len() as u64,
            alerts: news.entries().filter(|e| e.kind == Kind::Alert).count() as u64,
            addressed: news.addressed.len() as u64,
        };
        assert_eq!(count(&ch, &traffic).unwrap(), expect, "cursor {dp}/{pl}");
        assert_eq!(
            ch.cursor(&traffic).unwrap(),
            stored,
            "count moved the cursor"
        );
    }
}

#[tokio::test]
async fn wait_without_a_cursor_counts_only_what_comes_after_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let ch = channel(dir.path());
    post(&ch, "pipeline", Kind::Alert, &[], "old news");
    let writer = ch.clone();
    let filter = Filter {
        kinds: [Kind::Alert].into_iter().collect(),
        ..Filter::default()
    };
    let waiting = tokio::spawn({
        let ch = ch.clone();
        async move { wait(&ch, Wait::new(filter, Duration::from_secs(60))).await }
    });
    // Posted until the wait returns (whenever it started): notes are filtered out.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poster = std::thread::spawn({
        let done = done.clone();
        move || {
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                post(&writer, "pipeline", Kind::Note, &[], "quiet");
                post(&writer, "data-plane", Kind::Alert, &[], "wake up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    let got = waiting.await.unwrap().unwrap();
    done.store(true, std::sync::atomic::Ordering::Release);
    poster.join().unwrap();
    let Waited::Entries { entries, cursor } = got else {
        panic!("{got:?}")
    };
    assert!(!entries.is_empty());
    for e in &entries {
        assert_eq!(
            (e.author.as_str(), e.kind),
            ("data-plane", Kind::Alert),
            "{e:?}"
        );
    }
    let last = entries.last().unwrap().seq;
    assert_eq!(cursor.get(&a("data-plane")), last);
    // The pipeline's old alert was there before the call: never returned.
    assert!(cursor.get(&a("pipeline")) >= 1);
}

#[tokio::test]
async fn wait_with_a_cursor_returns_what_is_there_and_a_grep_narrows() {
    let dir = tempfile::tempdir().unwrap();
    let ch = channel(dir.path());
    post(&ch, "pipeline", Kind::Note, &[], "canary at 20%");
    post(&ch, "pipeline", Kind::Note, &[], "Canary promoted");
    let w = Wait {
        filter: Filter {
            grep: Some(Grep::new("PROMOTED", true).unwrap()),
            ..Filter::default()
        },
        from: Some(Cursor::default()),
        timeout: Duration::ZERO,
        limit: 10,
    };
    let Waited::Entries { entries, cursor } = wait(&ch, w.clone()).await.unwrap() else {
        panic!()
    };
    assert_eq!(ids(&entries), ["pipeline#2"]);
    // From there on, nothing: a zero timeout checks once.
    let w = Wait {
        from: Some(cursor),
        ..w
    };
    let got = wait(&ch, w).await.unwrap();
    assert!(
        matches!(&got, Waited::TimedOut { cursor } if cursor.to_string() == "pipeline:2"),
        "{got:?}"
    );
}

#[tokio::test]
async fn wait_times_out_and_refuses_long_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let ch = channel(dir.path());
    post(&ch, "pipeline", Kind::Note, &[], "there before");
    let got = wait(
        &ch,
        Wait::new(Filter::default(), Duration::from_millis(200)),
    )
    .await
    .unwrap();
    assert!(
        matches!(&got, Waited::TimedOut { cursor } if cursor.to_string() == "pipeline:1"),
        "{got:?}"
    );
    let err = wait(&ch, Wait::new(Filter::default(), Duration::from_secs(301)))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a wait of 301 s is out of range: give a timeout from 0 to 300 s"
    );
}
