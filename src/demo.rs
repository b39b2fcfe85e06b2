//! `warroom demo`: the whole tool on one machine, no cluster needed.
//!
//! Owns the orchestration only: it starts the simulator in-process with the built-in `story`
//! scenario, opens a channel, runs the relay and the three observers ([`crate::observe`]:
//! pipeline, data plane, bounded traffic against the simulator's backend) in-process, and
//! stops them in order when the scenario ends (or on the shutdown future): observers first
//! (their queues drained), then the relay (gracefully: live clients get 1001), then the
//! simulator; last it verifies the channel. It must not hold observer, detector or relay logic
//! and must not print: the CLI ([`crate::cli`]) says what happened.
//!
//! ```no_run
//! # async fn demo() -> Result<(), warroom::demo::DemoError> {
//! use warroom::demo::{Demo, DemoConfig};
//! let stop = tokio_util::sync::CancellationToken::new();
//! let mut demo = Demo::start(DemoConfig::new("channels".into(), 20.0)).await?;
//! println!("{} {}", demo.channel(), demo.url());
//! demo.run_scenario(stop.clone().cancelled_owned()).await;
//! let summary = demo.finish().await?;
//! assert!(summary.verify.intact());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::channel::verify::Report;
use crate::channel::{Author, Channel, Kind, Store, Theme};
use crate::observe::{self, Observation, ObserveError, Poster, data_plane, pipeline, traffic};
use crate::sim::{self, Scenario, SimHandle};

/// The built-in scenario the demo plays.
pub const SCENARIO: &str = "story";
/// The channel's theme (a `-2`, `-3`… suffix when today's is taken).
pub const THEME: &str = "litellm-canary-demo";
/// The story's Rollout and namespace.
const ROLLOUT: &str = "litellm";
const NAMESPACE: &str = "llm";
/// How long observers stop and drain, the relay drains, the simulator stops (each).
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Why the demo could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "--speed {0} is out of range: give a factor above 0 and at most 1000 (20 plays the 5.5-minute story 20 times faster)"
    )]
    Speed(f64),
    #[error(transparent)]
    Store(#[from] crate::channel::Error),
    #[error("cannot write the channel's brief")]
    Template(#[from] crate::templates::TemplateError),
    #[error(
        "cannot listen on {addr}: pick another address with --bind (127.0.0.1:0 picks a free port)"
    )]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the built-in scenario could not start")]
    Sim(#[from] sim::SimError),
    #[error("the built-in scenario could not load")]
    Scenario(#[from] sim::ScenarioError),
    #[error(transparent)]
    Observe(#[from] ObserveError),
    #[error("the relay failed")]
    Relay(#[from] crate::relay::RelayError),
    #[error("no free theme like {THEME}-N for today in {root}: remove old demo channels")]
    NoTheme { root: PathBuf },
}

impl DemoError {
    /// 2 for bad input, 3 for environment and I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            DemoError::Speed(_) => 2,
            DemoError::Store(e) => e.exit_code(),
            DemoError::Observe(e) => e.exit_code(),
            DemoError::Relay(e) => e.exit_code(),
            _ => 3,
        }
    }
}

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Store root (created when missing).
    pub root: PathBuf,
    /// Scenario time runs this many times faster than wall time.
    pub speed: f64,
    /// Where the relay listens (`127.0.0.1:7700`; port 0 picks a free one).
    pub bind: String,
    /// Day of the channel's name (default today, UTC).
    pub date: Option<NaiveDate>,
    /// Traffic requests per second (over all routes).
    pub rate: f64,
}

impl DemoConfig {
    pub fn new(root: PathBuf, speed: f64) -> Self {
        Self {
            root,
            speed,
            bind: "127.0.0.1:7700".to_string(),
            date: None,
            rate: 20.0,
        }
    }

    /// Data-plane coalescing window: about 30 s of scenario time, between 0.5 s and 3 s wall,
    /// so one step of the story is one table at any speed.
    fn data_plane_window(&self) -> Duration {
        Duration::from_secs(30)
            .div_f64(self.speed)
            .clamp(Duration::from_millis(500), Duration::from_secs(3))
    }

    /// Pipeline settle time: at most 300 ms, and about 6 s of scenario time when faster. The
    /// pipeline judges the state only after a quiet spell this long; the story's controller
    /// warnings come every 15 s of scenario time (0.3 s wall at 50×), and a settle as long as
    /// that gap would never let it judge between them.
    fn pipeline_settle(&self) -> Duration {
        Duration::from_secs(6)
            .div_f64(self.speed)
            .clamp(Duration::from_millis(50), Duration::from_millis(300))
    }

    /// Traffic tally window: about a minute of scenario time, between 1 s and 10 s wall.
    fn traffic_window(&self) -> Duration {
        Duration::from_secs(60)
            .div_f64(self.speed)
            .clamp(Duration::from_secs(1), Duration::from_secs(10))
    }
}

/// One alert the observers raised: its entry id and first line.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: String,
    pub headline: String,
}

/// What a demo run produced.
#[derive(Debug, Clone)]
pub struct Summary {
    pub channel: String,
    pub url: String,
    /// Entries per author, read back from the channel's files.
    pub entries: BTreeMap<String, u64>,
    /// Alerts in the order they were posted.
    pub alerts: Vec<Alert>,
    /// Observers that failed, with why.
    pub failures: Vec<String>,
    /// `warroom verify` of the channel after everything stopped.
    pub verify: Report,
    /// True when the shutdown future ended the run before the scenario did.
    pub interrupted: bool,
    /// Wall time from start to finish.
    pub elapsed: Duration,
}

/// What the observers' posting tasks record. std Mutex: short, non-async critical sections.
#[derive(Debug, Default)]
struct Tally {
    alerts: Vec<Alert>,
    failures: Vec<String>,
}

/// A running demo: the simulator, the relay and the observers, with their stop switches.
pub struct Demo {
    channel: Channel,
    url: String,
    sim: SimHandle,
    started: Instant,
    /// Stops the observers (they finish and drain their queues).
    observers_stop: CancellationToken,
    observers: TaskTracker,
    relay_stop: CancellationToken,
    relay: JoinHandle<Result<crate::relay::server::Shutdown, crate::relay::RelayError>>,
    sim_stop: CancellationToken,
    sim_server: JoinHandle<Result<(), sim::SimError>>,
    tally: Arc<Mutex<Tally>>,
    interrupted: bool,
}

impl Demo {
    /// Opens the channel, binds the relay and the simulator (loopback), posts the operator's
    /// opening note and starts the observers. The scenario's clock starts here.
    pub async fn start(config: DemoConfig) -> Result<Demo, DemoError> {
        if !(config.speed.is_finite() && config.speed > 0.0 && config.speed <= 1000.0) {
            return Err(DemoError::Speed(config.speed));
        }
        let scenario = Scenario::resolve(SCENARIO)?;
        let relay_listener =
            TcpListener::bind(&config.bind)
                .await
                .map_err(|source| DemoError::Bind {
                    addr: config.bind.clone(),
                    source,
                })?;
        let relay_addr = relay_listener
            .local_addr()
            .map_err(|source| DemoError::Bind {
                addr: config.bind.clone(),
                source,
            })?;
        let loopback = |what: &str| {
            let addr = format!("127.0.0.1:0 ({what})");
            move |source| DemoError::Bind { addr, source }
        };
        let api = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(loopback("simulated API"))?;
        let backend = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(loopback("simulated backend"))?;
        let api_url = format!(
            "http://{}",
            api.local_addr().map_err(loopback("simulated API"))?
        );
        let backend_url = format!(
            "http://{}",
            backend
                .local_addr()
                .map_err(loopback("simulated backend"))?
        );

        let store = Store::create(&config.root)?;
        let date = config
            .date
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let channel = open_channel(&store, date)?;
        let url = format!("http://{relay_addr}/?channel={}", channel.name());

        let relay_stop = CancellationToken::new();
        let relay = tokio::spawn(crate::relay::serve(
            relay_listener,
            crate::relay::Config::new(store.root()),
            relay_stop.clone().cancelled_owned(),
        ));

        let backend_header = scenario.backend.header.clone();
        let routes = routes(&scenario);
        let scenario_end = scenario.end;
        let served: Vec<(String, String)> = scenario
            .backend
            .model_routes
            .iter()
            .map(|r| (r.namespace.clone(), r.service.clone()))
            .collect();
        let sim = SimHandle::new(scenario, config.speed)?;
        let sim_stop = CancellationToken::new();
        let sim_server = tokio::spawn(sim::serve(
            sim.clone(),
            api,
            Some(backend),
            sim_stop.clone().cancelled_owned(),
        ));

        let operator = Poster::local(channel.clone(), Author::operator())?;
        operator
            .post(&Observation::new(Kind::Note, opening_note(config.speed)))
            .await?;

        let demo = Demo {
            channel: channel.clone(),
            url,
            sim: sim.clone(),
            started: Instant::now(),
            observers_stop: CancellationToken::new(),
            observers: TaskTracker::new(),
            relay_stop,
            relay,
            sim_stop,
            sim_server,
            tally: Arc::new(Mutex::new(Tally::default())),
            interrupted: false,
        };

        let client = observe::connect_url(&api_url).await?;
        let mut pipeline_config = pipeline::PipelineConfig::new(ROLLOUT, NAMESPACE);
        pipeline_config.settle = config.pipeline_settle();
        pipeline_config.state = demo.publish_state("pipeline")?;
        let c = client.clone();
        demo.observe("pipeline", move |out, cancel| {
            pipeline::run(c, pipeline_config, out, cancel)
        })?;
        let mut data_plane_config =
            data_plane::DataPlaneConfig::new(NAMESPACE, None, config.data_plane_window());
        data_plane_config.state = demo.publish_state("data-plane")?;
        demo.observe("data-plane", move |out, cancel| {
            data_plane::run(client, data_plane_config, out, cancel)
        })?;
        // Traffic starts once every route is served, as a user points it at a running
        // service: a short-form scenario's pods are still starting at time 0 (bounded: the
        // traffic observer reports a route nobody serves).
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && served
                .iter()
                .any(|(ns, svc)| sim.traffic_split(ns, svc).is_empty())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Traffic runs until the scenario's end (wall, rounded up to a second so its intro
        // reads "for 17s"), a bound it needs anyway.
        let left = sim
            .clock()
            .wall(scenario_end.saturating_sub(sim.clock().elapsed()));
        let left = Duration::from_secs(left.as_secs_f64().ceil().max(1.0) as u64);
        let mut traffic_config = traffic::TrafficConfig::new(
            &backend_url,
            routes,
            config.rate,
            traffic::Bound::Duration(left),
            config.traffic_window(),
            Some(backend_header.unwrap_or_else(|| "x-backend".to_string())),
            Duration::from_secs(5),
            0.05,
        )?;
        traffic_config.state = demo.publish_state("traffic")?;
        demo.observe("traffic", move |out, cancel| {
            traffic::run(traffic_config, out, cancel)
        })?;
        demo.observers.close();
        Ok(demo)
    }

    /// The channel's name (`2026-11-22--litellm-canary-demo`).
    pub fn channel(&self) -> String {
        self.channel.name().to_string()
    }

    /// The page, on the relay, opened on the demo's channel.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Starts the task publishing `role`'s state in the channel; it writes the last state
    /// (marked stopped) when the observer ends, and the demo waits for it with the observers.
    fn publish_state(&self, role: &str) -> Result<observe::state::StatePublisher, DemoError> {
        let (publisher, task) = observe::state::StatePublisher::spawn(
            observe::state::Target::Local(self.channel.clone()),
            Author::new(role)?,
            Duration::from_millis(crate::state::DEFAULT_HEARTBEAT_MS),
        );
        self.observers.spawn(async move {
            let _ = task.await;
        });
        Ok(publisher)
    }

    /// Runs one observer with its own posting task, under the demo's stop switch.
    fn observe<F, Fut>(&self, role: &'static str, observer: F) -> Result<(), DemoError>
    where
        F: FnOnce(mpsc::Sender<Observation>, CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), ObserveError>> + Send + 'static,
    {
        let poster = Poster::local(self.channel.clone(), Author::new(role)?)?;
        let (tx, rx) = mpsc::channel(256);
        let tally = self.tally.clone();
        let delivery = self.observers.spawn(deliver(rx, poster, tally.clone()));
        let cancel = self.observers_stop.clone();
        self.observers.spawn(async move {
            if let Err(e) = observer(tx, cancel).await {
                lock(&tally)
                    .failures
                    .push(format!("{role}: {:#}", anyhow_chain(&e)));
            }
            // The observer dropped its sender: its posting task ends once the queue is empty.
            let _ = delivery.await;
        });
        Ok(())
    }

    /// Waits for the scenario's end plus a short linger (the observers' last windows and
    /// confirmations land), or for `shutdown`; then stops the observers and drains their
    /// queues. The relay keeps serving until [`Demo::finish`].
    pub async fn run_scenario(&mut self, shutdown: impl Future<Output = ()>) {
        let linger = Duration::from_millis(2500);
        let sim = self.sim.clone();
        tokio::select! {
            () = async { sim.finished().await; tokio::time::sleep(linger).await } => {}
            () = shutdown => self.interrupted = true,
        }
        self.observers_stop.cancel();
        if tokio::time::timeout(STOP_DEADLINE, self.observers.wait())
            .await
            .is_err()
        {
            lock(&self.tally)
                .failures
                .push("observers did not stop within 10 s; their last posts may be missing".into());
        }
        self.sim_stop.cancel();
    }

    /// True when the shutdown future ended [`Demo::run_scenario`] early.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Stops the relay (gracefully) and the simulator, verifies the channel and sums it up.
    pub async fn finish(self) -> Result<Summary, DemoError> {
        self.observers_stop.cancel();
        self.sim_stop.cancel();
        self.relay_stop.cancel();
        let relay = tokio::time::timeout(STOP_DEADLINE, self.relay).await;
        let _ = tokio::time::timeout(STOP_DEADLINE, self.sim_server).await;
        let mut tally = std::mem::take(&mut *lock(&self.tally));
        match relay {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => return Err(e.into()),
            Ok(Err(e)) => tally.failures.push(format!("the relay task failed: {e}")),
            Err(_) => tally
                .failures
                .push("the relay did not stop within 10 s".to_string()),
        }
        let channel = self.channel.clone();
        let (verify, info) = tokio::task::spawn_blocking(move || {
            Ok::<_, crate::channel::Error>((
                crate::channel::verify::verify(&channel)?,
                channel.info()?,
            ))
        })
        .await
        .map_err(|e| ObserveError::Join {
            channel: self.channel.name().to_string(),
            source: e,
        })??;
        Ok(Summary {
            channel: self.channel.name().to_string(),
            url: self.url,
            entries: info.authors,
            alerts: tally.alerts,
            failures: tally.failures,
            verify,
            interrupted: self.interrupted,
            elapsed: self.started.elapsed(),
        })
    }
}

fn lock(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(|e| e.into_inner())
}

fn anyhow_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Posts every observation in order until the observer is done; records alerts. A failed post
/// is recorded and the run continues (as [`observe::deliver`], but silent: the demo's stdout
/// carries only the channel and the URL).
async fn deliver(mut rx: mpsc::Receiver<Observation>, poster: Poster, tally: Arc<Mutex<Tally>>) {
    let mut delivery = observe::Delivery::new(poster);
    while let Some(obs) = rx.recv().await {
        let kind = obs.kind;
        let body = obs.body.clone();
        match delivery.post(obs).await {
            Ok(id) if kind == Kind::Alert => lock(&tally).alerts.push(Alert {
                id,
                headline: headline(&body),
            }),
            Ok(_) => {}
            Err(e) => lock(&tally).failures.push(anyhow_chain(&e)),
        }
    }
}

/// The first line of a body without markdown emphasis, at most 110 characters.
pub fn headline(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let plain: String = line.replace("**", "");
    let mut out: String = plain.trim().chars().take(110).collect();
    if plain.trim().chars().count() > 110 {
        out.push('…');
    }
    out
}

/// Today's `litellm-canary-demo` channel, or `-2`, `-3`… when it exists already.
fn open_channel(store: &Store, date: NaiveDate) -> Result<Channel, DemoError> {
    let roles: Vec<_> = ["pipeline", "data-plane", "traffic", "operator"]
        .iter()
        .map(|r| Author::new(r).map(crate::roles::role))
        .collect::<Result<_, _>>()?;
    for n in 1..100 {
        let theme = if n == 1 {
            THEME.to_string()
        } else {
            format!("{THEME}-{n}")
        };
        let theme = Theme::new(&theme)?;
        match store.open_channel(date, theme.clone(), roles.clone()) {
            Ok(channel) => {
                crate::templates::write_brief(store.root(), &channel)?;
                return Ok(channel);
            }
            Err(crate::channel::Error::ChannelExists { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DemoError::NoTheme {
        root: store.root().to_owned(),
    })
}

/// The routes the traffic observer rotates through: every route of the scenario's backend
/// (written answers, or answers that follow the model's traffic split), with a small JSON
/// body for POSTs.
fn routes(scenario: &Scenario) -> Vec<traffic::Route> {
    let backend = &scenario.backend;
    backend
        .routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .chain(
            backend
                .model_routes
                .iter()
                .map(|r| (r.method.clone(), r.path.clone())),
        )
        .map(|(method, path)| {
            let method = method.unwrap_or_else(|| "GET".to_string());
            let body = (method == "POST").then(|| {
                if path.contains("chat") {
                    r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"ping"}]}"#
                        .to_string()
                } else {
                    r#"{"model":"text-embedding-3-small","input":"ping"}"#.to_string()
                }
            });
            traffic::Route { method, path, body }
        })
        .collect()
}

fn opening_note(speed: f64) -> String {
    format!(
        "**Demo: a rehearsal of the litellm canary in the built-in simulator** (scenario \
         `{SCENARIO}` at {speed}× speed; no cluster involved).\n\n\
         The release updates Rollout `{NAMESPACE}/{ROLLOUT}` (workloadRef Deployment `{ROLLOUT}`) \
         to a 20% canary step with analysis. Observers, each from your own vantage point:\n\n\
         - **pipeline**: the Rollout, its AnalysisRuns and templates, the workloadRef \
         Deployment and their Events;\n\
         - **data-plane**: what actually runs in `{NAMESPACE}` (ReplicaSets, pods, Jobs, \
         Warning events);\n\
         - **traffic**: synthetic requests over every route of the service.\n\n\
         Say what you see, with evidence; alert on anything wrong or stuck."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_takes_the_first_line_without_emphasis() {
        assert_eq!(
            headline("\n**spec not observed** — **Rollout llm/litellm**: x\n- more"),
            "spec not observed — Rollout llm/litellm: x"
        );
        let long = "a".repeat(200);
        assert_eq!(headline(&long).chars().count(), 111);
    }

    #[test]
    fn windows_follow_the_speed_within_bounds() {
        let c = |speed| DemoConfig::new(PathBuf::from("x"), speed);
        assert_eq!(c(20.0).data_plane_window(), Duration::from_millis(1500));
        assert_eq!(c(1.0).data_plane_window(), Duration::from_secs(3));
        assert_eq!(c(1000.0).data_plane_window(), Duration::from_millis(500));
        assert_eq!(c(20.0).traffic_window(), Duration::from_secs(3));
        assert_eq!(c(20.0).pipeline_settle(), Duration::from_millis(300));
        assert_eq!(c(50.0).pipeline_settle(), Duration::from_millis(120));
        assert_eq!(c(1.0).traffic_window(), Duration::from_secs(10));
    }

    #[test]
    fn the_story_routes_all_become_traffic_routes() {
        let scenario = Scenario::resolve(SCENARIO).unwrap();
        let routes = routes(&scenario);
        assert!(routes.len() >= 2, "{routes:?}");
        assert!(routes.iter().any(|r| r.path == "/v1/embeddings"));
        assert!(
            routes
                .iter()
                .all(|r| (r.method == "POST") == r.body.is_some())
        );
    }
}
