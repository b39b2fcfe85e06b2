//! Detection latency per detector: from the fault's moment in scenario time to the pipeline
//! observer's alert, at simulator speeds 1 and 20. The simulator runs in this process (its
//! scenario clock says at which wall instant an offset is reached); the observer is the real
//! `pipeline::run` against it over loopback HTTP, and the instant its alert leaves it is taken
//! (posting to a local store adds an append, see "Store" in BENCHMARKS.md).
//!
//! - Timed faults (a step of the `detector-*` scenario): latency from the step's instant; for
//!   a threshold detector (spec not observed: 60 s of cluster time) from the instant the
//!   threshold is reached.
//! - Faults present from the start (workloadRef leak, canary Service, replica math, blind
//!   analysis): from the observer's first entry (`watching Rollout …`): the time to judge a
//!   fault it finds on arrival.
//! - Baseline from the same run: the transition line reporting the rollout's abort (the same
//!   step as `rollout degraded`), i.e. the pipeline's settle path without a detector.
//!
//! Targets (issue 10): non-threshold detectors within settle + 1 s of wall time (1.3 s, though
//! shape findings also wait a 1 s confirmation); threshold detectors within max(2 s of cluster
//! time, settle + 1 s of wall time) past their threshold.
//!
//! `cargo bench --bench detect_latency [-- --quick]` (quick: speed 20 only, one run each).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use warroom::channel::Kind;
use warroom::observe::{self, Observation, pipeline};
use warroom::rollout::detect::Detector;
use warroom::sim::{self, Scenario, SimHandle};

/// One scenario and the faults in it: (detector, scenario offset of the fault, or None when it
/// is there from the start).
struct Case {
    scenario: &'static str,
    namespace: &'static str,
    faults: &'static [(Detector, Option<u64>)],
    /// Offset of the abort step whose transition line is the baseline.
    baseline_at: Option<u64>,
}

const CASES: &[Case] = &[
    Case {
        scenario: "detector-spec-not-observed",
        namespace: "demo",
        // The spec changes at 10 s; the 60 s threshold is reached at 70 s. The first Warning
        // is at 15 s.
        faults: &[
            (Detector::SpecNotObserved, Some(70)),
            (Detector::ControllerWarning, Some(15)),
        ],
        baseline_at: None,
    },
    Case {
        scenario: "detector-analysis-errors",
        namespace: "demo",
        faults: &[
            (Detector::AnalysisErrors, Some(10)),
            (Detector::AnalysisNoData, Some(10)),
            (Detector::AnalysisFailed, Some(130)),
            (Detector::RolloutDegraded, Some(131)),
        ],
        baseline_at: Some(131),
    },
    Case {
        scenario: "detector-workloadref-leak",
        namespace: "demo",
        faults: &[(Detector::WorkloadRefLeak, None)],
        baseline_at: None,
    },
    Case {
        scenario: "detector-canary-service",
        namespace: "demo",
        faults: &[(Detector::CanaryServiceSelectsStable, None)],
        baseline_at: None,
    },
    Case {
        scenario: "detector-canary-math",
        namespace: "demo",
        faults: &[(Detector::CanaryReplicaMath, None)],
        baseline_at: None,
    },
    Case {
        // The built-in blind-query scenario is silent on purpose (its blind templates gate
        // nothing); the held-out Istio scenario's step analysis is blind from the start.
        scenario: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/heldout/istio-success-rate-4xx.yaml"
        ),
        namespace: "mesh",
        faults: &[(Detector::BlindAnalysis, None)],
        baseline_at: None,
    },
];

/// Latencies of one run, in milliseconds, by detector (and "baseline").
async fn run(case: &Case, speed: f64) -> BTreeMap<String, f64> {
    let sim = SimHandle::new(Scenario::resolve(case.scenario).unwrap(), speed).unwrap();
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", api.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(sim::serve(
        sim.clone(),
        api,
        None,
        stop.clone().cancelled_owned(),
    ));
    let client = observe::connect_url(&url).await.unwrap();
    let (tx, mut rx) = mpsc::channel::<Observation>(256);
    let cancel = CancellationToken::new();
    let config = pipeline::PipelineConfig::watching(pipeline::Target::All, case.namespace);
    let observer = tokio::spawn(pipeline::run(client, config, tx, cancel.clone()));
    let clock = sim.clock();
    let last = case
        .faults
        .iter()
        .filter_map(|(_, at)| *at)
        .max()
        .unwrap_or(0);
    let deadline = clock.instant_at(Duration::from_secs(last)) + Duration::from_secs(30);
    let mut watching: Option<Instant> = None;
    let mut found: BTreeMap<String, f64> = BTreeMap::new();
    let ms = |a: Instant, b: Instant| {
        if a >= b {
            (a - b).as_secs_f64() * 1000.0
        } else {
            -((b - a).as_secs_f64() * 1000.0)
        }
    };
    while found.len() < case.faults.len() + usize::from(case.baseline_at.is_some()) {
        let Ok(Some(o)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break;
        };
        let now = Instant::now();
        if watching.is_none() && o.body.starts_with("**watching Rollout") {
            watching = Some(now);
        }
        if let Some(at) = case.baseline_at {
            let step = clock.instant_at(Duration::from_secs(at));
            if o.kind != Kind::Alert && now >= step && o.body.contains("→ **Degraded**") {
                found
                    .entry("baseline (abort transition line)".into())
                    .or_insert(ms(now, step));
            }
        }
        if o.kind != Kind::Alert || !o.refs.is_empty() {
            continue;
        }
        for (detector, at) in case.faults {
            if !o.body.starts_with(&format!("**{}** — ", detector.title())) {
                continue;
            }
            let from = match at {
                Some(at) => clock.instant_at(Duration::from_secs(*at)),
                None => watching.unwrap_or(now),
            };
            found
                .entry(detector.slug().to_string())
                .or_insert(ms(now, from));
        }
    }
    cancel.cancel();
    let _ = observer.await;
    stop.cancel();
    let _ = server.await;
    found
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan: &[(f64, usize)] = if quick {
        &[(20.0, 1)]
    } else {
        &[(20.0, 5), (1.0, 3)]
    };
    println!("load average at start: {}", common::load_average());
    for &(speed, runs) in plan {
        let mut all: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for _ in 0..runs {
            for case in CASES {
                for (k, v) in run(case, speed).await {
                    all.entry(k).or_default().push(v);
                }
            }
        }
        println!(
            "\nspeed {speed}: {runs} run(s) per scenario; load average now {}",
            common::load_average()
        );
        println!("| detector | fault at (scenario) | runs | median ms | min ms | max ms |");
        println!("|---|---|---|---|---|---|");
        for case in CASES {
            let mut rows: Vec<(String, String)> = case
                .faults
                .iter()
                .map(|(d, at)| {
                    (
                        d.slug().to_string(),
                        at.map(|s| format!("{s} s"))
                            .unwrap_or_else(|| "from the start".into()),
                    )
                })
                .collect();
            if let Some(at) = case.baseline_at {
                rows.push(("baseline (abort transition line)".into(), format!("{at} s")));
            }
            for (name, at) in rows {
                match all.get_mut(&name) {
                    Some(v) if !v.is_empty() => {
                        let n = v.len();
                        let s = common::stats(v.clone());
                        println!(
                            "| {name} | {at} | {n} | {:.0} | {:.0} | {:.0} |",
                            s.median, s.min, s.max
                        );
                    }
                    _ => println!("| {name} | {at} | 0 | not alerted | | |"),
                }
            }
        }
    }
}
