//! Shared by the observer tests: the real simulator in-process on 127.0.0.1 port 0, a real
//! channel in a temp dir, and the observer's entries read back from the files.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warroom::channel::{Author, Entry, Store, Theme};
use warroom::observe::{self, Observation, ObserveError, Poster};
use warroom::sim::{self, Scenario, SimHandle};
use warroom::timeline::{Filter, Merge};

/// Every wait is bounded by this and fails on it; no test asserts a duration.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub struct Sim {
    pub sim: SimHandle,
    pub url: String,
    pub backend_url: String,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), sim::SimError>>,
}

impl Sim {
    pub async fn start(scenario: Scenario, speed: f64) -> Sim {
        let sim = SimHandle::new(scenario, speed).unwrap();
        let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", api.local_addr().unwrap());
        let backend_url = format!("http://{}", backend.local_addr().unwrap());
        let stop = CancellationToken::new();
        let server = tokio::spawn(sim::serve(
            sim.clone(),
            api,
            Some(backend),
            stop.clone().cancelled_owned(),
        ));
        Sim {
            sim,
            url,
            backend_url,
            stop,
            server,
        }
    }

    pub async fn builtin(name: &str, speed: f64) -> Sim {
        Sim::start(Scenario::resolve(name).unwrap(), speed).await
    }

    pub async fn client(&self) -> kube::Client {
        observe::connect_url(&self.url).await.unwrap()
    }

    pub async fn finished(&self) {
        tokio::time::timeout(DEADLINE, self.sim.finished())
            .await
            .expect("the scenario finishes");
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(DEADLINE, self.server).await;
    }
}

/// A store with one channel in a temp dir.
pub struct Record {
    pub dir: tempfile::TempDir,
    pub channel: warroom::channel::Channel,
}

impl Record {
    pub fn new() -> Record {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("channels")).unwrap();
        let roles = ["pipeline", "data-plane", "traffic", "operator"]
            .iter()
            .map(|r| warroom::roles::role(Author::new(r).unwrap()))
            .collect();
        let channel = store
            .open_channel(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
                Theme::new("observe-test").unwrap(),
                roles,
            )
            .unwrap();
        Record { dir, channel }
    }

    pub fn entries(&self) -> Vec<Entry> {
        Merge::open(&self.channel, Filter::default(), |p| panic!("{p:?}"))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// Runs an observer posting as `role` into `record` while `during` runs; then stops it and
/// waits for its posts. Returns the observer's result.
pub async fn observe<F, Fut, D>(
    record: &Record,
    role: &str,
    observer: F,
    during: D,
) -> Result<(), ObserveError>
where
    F: FnOnce(mpsc::Sender<Observation>, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), ObserveError>> + Send + 'static,
    D: Future<Output = ()>,
{
    let poster = Poster::local(record.channel.clone(), Author::new(role).unwrap()).unwrap();
    let (tx, rx) = mpsc::channel(256);
    let delivery = tokio::spawn(observe::deliver(rx, poster, CancellationToken::new()));
    let cancel = CancellationToken::new();
    let run = tokio::spawn(observer(tx, cancel.clone()));
    tokio::time::timeout(DEADLINE, during)
        .await
        .expect("the test's run ends");
    cancel.cancel();
    let result = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the observer stops when cancelled")
        .unwrap();
    tokio::time::timeout(DEADLINE, delivery)
        .await
        .expect("delivery drains")
        .unwrap();
    result
}

/// Waits until `record` has an entry from `author` whose body contains `text`.
pub async fn wait_for(record: &Record, author: &str, text: &str) {
    tokio::time::timeout(DEADLINE, async {
        loop {
            if record
                .entries()
                .iter()
                .any(|e| e.author.as_str() == author && e.body.contains(text))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{author} never wrote {text:?}: {:#?}", record.entries()));
}
