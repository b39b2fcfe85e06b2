//! The traffic observer: bounded synthetic HTTP load at an explicit URL, rotating through
//! routes, tallied per route per window.
//!
//! It refuses to start without a bound (a duration or a count) and warns when only one route
//! is configured (the single-route blind spot). Per route and window it posts counts by status
//! class, errors, timeouts and p50/p95/p99 latency; every response that is not 2xx or 3xx is a
//! failure (a 404 or 429 is the user's outage too). When a route's failures in the current
//! window cross the threshold it alerts at once (and says when the route recovers). With a
//! backend header it reports how requests spread over backends (mean and σ/μ). At the end it
//! posts the whole run's exact tally.
//!
//! Redirects are not followed: a 3xx is the answer. With `WARROOM_LOOPBACK_ONLY=1` (set by the
//! tests) only 127.0.0.1 and [::1] are accepted as targets.
//!
//! The pure parts are [`Route::parse`], [`TrafficConfig::new`], [`Tally`] and the renderers;
//! [`run`] does the I/O.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Observation, ObserveError};

/// The env var that restricts targets to loopback (tests set it).
pub const LOOPBACK_ONLY_ENV: &str = "WARROOM_LOOPBACK_ONLY";
/// Most requests in flight at once; a tick beyond it is skipped and counted.
pub const MAX_IN_FLIGHT: usize = 512;
/// Fewest requests in a window before its failure ratio can alert.
pub const MIN_REQUESTS_FOR_ALERT: u64 = 5;

/// One route: method, path and optional body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl Route {
    /// Parses `[METHOD] PATH [BODY]`: `GET /health`, `/health`, `POST /v1/embeddings {"input":"x"}`.
    pub fn parse(spec: &str) -> Result<Route, ObserveError> {
        let spec = spec.trim();
        let (first, rest) = spec.split_once(char::is_whitespace).unwrap_or((spec, ""));
        let (method, rest) = if METHODS.contains(&first.to_ascii_uppercase().as_str()) {
            (first.to_ascii_uppercase(), rest.trim_start())
        } else {
            ("GET".to_string(), spec)
        };
        let (path, body) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if !path.starts_with('/') {
            return Err(ObserveError::Usage(format!(
                "route {spec:?}: expected `[METHOD] PATH [BODY]` with PATH starting with / (e.g. `POST /v1/embeddings {{\"input\":\"hi\"}}`)"
            )));
        }
        let body = body.trim();
        Ok(Route {
            method,
            path: path.to_string(),
            body: (!body.is_empty()).then(|| body.to_string()),
        })
    }

    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// `10/s`, `10`, `600/m` -> requests per second.
pub fn parse_rate(text: &str) -> Result<f64, ObserveError> {
    let bad = || {
        ObserveError::Usage(format!(
            "rate {text:?}: expected requests per second like `10/s` (or `600/m`), between 0.01 and 10000/s"
        ))
    };
    let (number, per) = text.trim().split_once('/').unwrap_or((text.trim(), "s"));
    let n: f64 = number.trim().parse().map_err(|_| bad())?;
    let rate = match per.trim() {
        "s" | "sec" => n,
        "m" | "min" => n / 60.0,
        _ => return Err(bad()),
    };
    if !(0.01..=10_000.0).contains(&rate) {
        return Err(bad());
    }
    Ok(rate)
}

/// When the run stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Duration(Duration),
    Count(u64),
}

/// A validated traffic run.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    pub url: reqwest::Url,
    pub routes: Vec<Route>,
    /// Requests per second over all routes.
    pub rate: f64,
    pub bound: Bound,
    pub window: Duration,
    pub backend_header: Option<String>,
    pub timeout: Duration,
    /// Failure ratio (0–1) above which a route alerts.
    pub failure_threshold: f64,
    /// Where each route's last window goes (state beside history).
    pub state: super::state::StatePublisher,
}

impl TrafficConfig {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: &str,
        routes: Vec<Route>,
        rate: f64,
        bound: Bound,
        window: Duration,
        backend_header: Option<String>,
        timeout: Duration,
        failure_threshold: f64,
    ) -> Result<TrafficConfig, ObserveError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            ObserveError::Usage(format!(
                "--url {url:?} is not a URL ({e}); give one like http://127.0.0.1:8080"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ObserveError::Usage(format!(
                "--url {url:?}: only http and https are supported"
            )));
        }
        if std::env::var(LOOPBACK_ONLY_ENV).is_ok_and(|v| v == "1") && !is_loopback(&parsed) {
            return Err(ObserveError::Usage(format!(
                "refusing to send traffic to {url}: {LOOPBACK_ONLY_ENV}=1 allows only 127.0.0.1 and [::1] targets"
            )));
        }
        if routes.is_empty() {
            return Err(ObserveError::Usage(
                "give at least one --route `[METHOD] PATH [BODY]`".into(),
            ));
        }
        if !(rate > 0.0 && rate <= 10_000.0) {
            return Err(ObserveError::Usage(format!(
                "rate {rate}/s is out of range (0.01 to 10000/s)"
            )));
        }
        match bound {
            Bound::Duration(d) if d.is_zero() => {
                return Err(ObserveError::Usage("--duration must be more than 0".into()));
            }
            Bound::Count(0) => {
                return Err(ObserveError::Usage("--count must be at least 1".into()));
            }
            _ => {}
        }
        if window.is_zero() {
            return Err(ObserveError::Usage("--window must be more than 0".into()));
        }
        if !(0.0..1.0).contains(&failure_threshold) {
            return Err(ObserveError::Usage(
                "--failure-threshold must be between 0 and 1 (e.g. 0.05)".into(),
            ));
        }
        Ok(TrafficConfig {
            url: parsed,
            routes,
            rate,
            bound,
            window,
            backend_header,
            timeout,
            failure_threshold,
            state: super::state::StatePublisher::none(),
        })
    }

    /// Things worth saying before the run (on stderr and as the first entry).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.routes.len() == 1 {
            w.push(format!(
                "only one route ({}) is configured: a failure on any other route will not be seen. Add --route for each endpoint users call.",
                self.routes[0].label()
            ));
        }
        w
    }

    fn target(&self, route: &Route) -> String {
        format!("{}{}", self.url.as_str().trim_end_matches('/'), route.path)
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback())
}

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub route: usize,
    pub status: Option<u16>,
    pub timed_out: bool,
    pub latency: Duration,
    pub backend: Option<String>,
}

impl Outcome {
    /// Not 2xx or 3xx, or no response at all.
    pub fn failed(&self) -> bool {
        !matches!(self.status, Some(200..=399))
    }
}

/// One route's tally over a window or a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub statuses: BTreeMap<u16, u64>,
    /// Requests without a response (connection refused, reset), timeouts excluded.
    pub errors: u64,
    pub timeouts: u64,
    pub latencies_ms: Vec<f64>,
    pub backends: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        match o.status {
            Some(s) => *self.statuses.entry(s).or_default() += 1,
            None if o.timed_out => self.timeouts += 1,
            None => self.errors += 1,
        }
        if o.status.is_some() {
            self.latencies_ms.push(o.latency.as_secs_f64() * 1000.0);
        }
        if let Some(b) = &o.backend {
            *self.backends.entry(b.clone()).or_default() += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors + self.timeouts
    }

    pub fn failures(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| !(200..=399).contains(*s))
            .map(|(_, n)| n)
            .sum::<u64>()
            + self.errors
            + self.timeouts
    }

    /// Count of responses in class `c` (2 for 2xx).
    pub fn class(&self, c: u16) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| **s / 100 == c)
            .map(|(_, n)| n)
            .sum()
    }

    /// Nearest-rank percentile of response latencies, in ms.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.latencies_ms.is_empty() {
            return None;
        }
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
    }

    /// Mean requests per backend and σ/μ, when a backend header was seen.
    pub fn spread(&self) -> Option<(f64, f64)> {
        if self.backends.is_empty() {
            return None;
        }
        let n = self.backends.len() as f64;
        let counts: Vec<f64> = self.backends.values().map(|c| *c as f64).collect();
        let mean = counts.iter().sum::<f64>() / n;
        let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / n;
        Some((mean, if mean > 0.0 { var.sqrt() / mean } else { 0.0 }))
    }

    fn statuses_text(&self) -> String {
        let parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}×{n}"))
            .collect();
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(" ")
        }
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

/// A table of tallies, one row per route.
pub fn render_table(title: &str, routes: &[Route], tallies: &[Tally]) -> String {
    let mut out = format!(
        "{title}\n\n| route | requests | 2xx | 3xx | 4xx | 5xx | errors | timeouts | failures | statuses | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for (r, t) in routes.iter().zip(tallies) {
        let failures = t.failures();
        let fail = if failures > 0 {
            format!("**{failures}**")
        } else {
            "0".into()
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {fail} | {} | {} | {} | {} |\n",
            r.label(),
            t.total(),
            t.class(2),
            t.class(3),
            t.class(4),
            t.class(5),
            t.errors,
            t.timeouts,
            t.statuses_text(),
            ms(t.percentile(50.0)),
            ms(t.percentile(95.0)),
            ms(t.percentile(99.0)),
        ));
    }
    let spreads: Vec<String> = routes
        .iter()
        .zip(tallies)
        .filter_map(|(r, t)| {
            let (mean, cv) = t.spread()?;
            let per: Vec<String> = t.backends.iter().map(|(b, n)| format!("{b} {n}")).collect();
            Some(format!(
                "- `{}` backends: {} · mean {mean:.1} · σ/μ {cv:.2}",
                r.label(),
                per.join(", ")
            ))
        })
        .collect();
    if !spreads.is_empty() {
        out.push_str("\nPer-backend spread:\n");
        out.push_str(&spreads.join("\n"));
        out.push('\n');
    }
    out
}

/// What a whole run counted, per route (in the order of the routes).
#[derive(Debug, Clone, Default)]
pub struct TrafficReport {
    pub routes: Vec<Route>,
    pub totals: Vec<Tally>,
    /// Ticks skipped because [`MAX_IN_FLIGHT`] requests were pending.
    pub skipped: u64,
}

/// Tracks which routes are over the failure threshold in the current window, and the key of
/// each open alert (its recovery is the `resolved` entry that refs it).
#[derive(Debug, Clone, Default)]
struct Alarms {
    failing: Vec<bool>,
    keys: Vec<Option<String>>,
    /// Raised during the current window: that window's own closing count cannot recover it
    /// (an alert raised at 1 of 19 would otherwise resolve at 1 of 20 in the same window and
    /// flap); a later whole window at or under the threshold does.
    raised_now: Vec<bool>,
}

impl Alarms {
    fn check(&mut self, route: &Route, i: usize, t: &Tally, threshold: f64) -> Option<Observation> {
        if self.failing.len() <= i {
            self.failing.resize(i + 1, false);
        }
        let total = t.total();
        let ratio = if total == 0 {
            0.0
        } else {
            t.failures() as f64 / total as f64
        };
        if !self.failing[i] && total >= MIN_REQUESTS_FOR_ALERT && ratio > threshold {
            self.failing[i] = true;
            if self.keys.len() <= i {
                self.keys.resize(i + 1, None);
            }
            let key = super::lifecycle::encode(
                "traffic",
                &format!(
                    "route-failing|{}@{}",
                    route.label(),
                    chrono::Utc::now().timestamp_millis()
                ),
            );
            self.keys[i] = Some(key.clone());
            if self.raised_now.len() <= i {
                self.raised_now.resize(i + 1, false);
            }
            self.raised_now[i] = true;
            let mut alert = Observation::alert(format!(
                "**route `{}` is failing**: {} of {} requests failed in this window ({:.0}% > {:.0}%): {}, errors {}, timeouts {}. Every response that is not 2xx/3xx counts.",
                route.label(),
                t.failures(),
                total,
                ratio * 100.0,
                threshold * 100.0,
                t.statuses_text(),
                t.errors,
                t.timeouts
            ));
            alert.key = Some(key);
            return Some(alert);
        }
        None
    }

    /// At a window's end: routes that were failing and are now below the threshold recover.
    fn window_end(
        &mut self,
        routes: &[Route],
        tallies: &[Tally],
        threshold: f64,
    ) -> Vec<Observation> {
        let mut out = Vec::new();
        for (i, t) in tallies.iter().enumerate() {
            if self.raised_now.get_mut(i).is_some_and(std::mem::take) {
                continue;
            }
            let total = t.total();
            let ratio = if total == 0 {
                1.0
            } else {
                t.failures() as f64 / total as f64
            };
            if self.failing.get(i).copied().unwrap_or(false) && total > 0 && ratio <= threshold {
                self.failing[i] = false;
                let mut recovered = Observation::report(format!(
                    "route `{}` recovered: {} of {} failed in the last window.",
                    routes[i].label(),
                    t.failures(),
                    total
                ));
                // The recovery resolves the route's alert.
                if let Some(key) = self.keys.get_mut(i).and_then(Option::take) {
                    recovered.kind = crate::channel::Kind::Resolved;
                    recovered.refs = vec![super::Ref::Key(key.clone())];
                    recovered.key = Some(format!("{key}/resolved"));
                }
                out.push(recovered);
            }
        }
        out
    }
}

/// Runs the traffic; returns the exact tally of the whole run. Stops at its bound or at
/// `cancel`, then waits for requests in flight (each has the timeout).
pub async fn run_report(
    config: TrafficConfig,
    out: mpsc::Sender<Observation>,
    cancel: CancellationToken,
) -> Result<TrafficReport, ObserveError> {
    let http = reqwest::Client::builder()
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ObserveError::Usage(format!("cannot build the HTTP client: {e}")))?;
    let n = config.routes.len();
    let bound = match config.bound {
        Bound::Duration(d) => format!("for {}", humantime::format_duration(d)),
        Bound::Count(c) => format!("{c} requests"),
    };
    let mut intro = format!(
        "**synthetic traffic** to `{}`: {bound} at {}/s over {} route(s): {}; tallies every {}; failure threshold {:.0}%.",
        config.url,
        config.rate,
        n,
        config
            .routes
            .iter()
            .map(|r| format!("`{}`", r.label()))
            .collect::<Vec<_>>()
            .join(", "),
        humantime::format_duration(config.window),
        config.failure_threshold * 100.0
    );
    for w in config.warnings() {
        intro.push_str(&format!("\n\n⚠ {w}"));
    }
    let _ = out.send(Observation::report(intro)).await;

    let mut report = TrafficReport {
        routes: config.routes.clone(),
        totals: vec![Tally::default(); n],
        skipped: 0,
    };
    let mut window: Vec<Tally> = vec![Tally::default(); n];
    let mut window_no = 0u64;
    let mut alarms = Alarms::default();
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut windows = tokio::time::interval_at(started + config.window, config.window);
    let deadline = match config.bound {
        Bound::Duration(d) => Some(started + d),
        Bound::Count(_) => None,
    };
    let done_sending = |sent: u64| match config.bound {
        Bound::Count(c) => sent >= c,
        Bound::Duration(_) => false,
    };
    let mut sending = true;

    loop {
        if !sending && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            () = cancel.cancelled(), if sending => sending = false,
            () = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } else { std::future::pending().await } }, if sending => {
                sending = false;
            }
            _ = ticker.tick(), if sending => {
                if in_flight.len() >= MAX_IN_FLIGHT {
                    report.skipped += 1;
                    continue;
                }
                let i = usize::try_from(sent % n as u64).unwrap_or(0);
                sent += 1;
                if done_sending(sent) {
                    sending = false;
                }
                let route = config.routes[i].clone();
                let target = config.target(&route);
                let http = http.clone();
                let header = config.backend_header.clone();
                in_flight.spawn(request(http, i, route, target, header));
            }
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                let Ok(outcome) = done else { continue };
                let i = outcome.route;
                window[i].add(&outcome);
                report.totals[i].add(&outcome);
                if let Some(alert) = alarms.check(&config.routes[i], i, &window[i], config.failure_threshold) {
                    let _ = out.send(alert).await;
                }
            }
            _ = windows.tick() => {
                window_no += 1;
                emit_window(&config, &mut window, &mut alarms, window_no, &out).await;
            }
        }
    }
    if window.iter().any(|t| t.total() > 0) {
        window_no += 1;
        emit_window(&config, &mut window, &mut alarms, window_no, &out).await;
    }
    let mut summary = render_table(
        &format!(
            "**traffic summary**: {} requests in {} (exact tally of every request sent)",
            report.totals.iter().map(Tally::total).sum::<u64>(),
            humantime::format_duration(Duration::from_millis(
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
            ))
        ),
        &report.routes,
        &report.totals,
    );
    if report.skipped > 0 {
        summary.push_str(&format!(
            "\n{} ticks skipped: {MAX_IN_FLIGHT} requests were already in flight (the target is slower than the rate).\n",
            report.skipped
        ));
    }
    let failing: Vec<String> = report
        .routes
        .iter()
        .zip(&report.totals)
        .filter(|(_, t)| t.failures() > 0)
        .map(|(r, t)| format!("`{}` ({} of {})", r.label(), t.failures(), t.total()))
        .collect();
    if !failing.is_empty() {
        summary.push_str(&format!(
            "\nRoutes with failures: {}.\n",
            failing.join(", ")
        ));
    }
    let _ = out.send(Observation::report(summary)).await;
    Ok(report)
}

/// [`run_report`] without the report, for the CLI.
pub async fn run(
    config: TrafficConfig,
    out: mpsc::Sender<Observation>,
    cancel: CancellationToken,
) -> Result<(), ObserveError> {
    run_report(config, out, cancel).await.map(|_| ())
}

async fn emit_window(
    config: &TrafficConfig,
    window: &mut [Tally],
    alarms: &mut Alarms,
    window_no: u64,
    out: &mpsc::Sender<Observation>,
) {
    let tallies: Vec<Tally> = window.iter_mut().map(std::mem::take).collect();
    let routes = super::state::routes(&config.routes, &tallies, config.window);
    config.state.update(|d| d.routes = routes);
    if tallies.iter().all(|t| t.total() == 0) {
        return;
    }
    let text = render_table(
        &format!(
            "**traffic window {window_no}** ({})",
            humantime::format_duration(config.window)
        ),
        &config.routes,
        &tallies,
    );
    let _ = out.send(Observation::report(text)).await;
    for obs in alarms.window_end(&config.routes, &tallies, config.failure_threshold) {
        let _ = out.send(obs).await;
    }
}

async fn request(
    http: reqwest::Client,
    route_index: usize,
    route: Route,
    target: String,
    header: Option<String>,
) -> Outcome {
    let method =
        reqwest::Method::from_bytes(route.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = http.request(method, &target);
    if let Some(body) = route.body {
        req = req.header("content-type", "application/json").body(body);
    }
    let start = Instant::now();
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let backend = header.and_then(|h| {
                resp.headers()
                    .get(h.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
            // Read the body: the latency of an answer includes it.
            let _ = resp.bytes().await;
            Outcome {
                route: route_index,
                status: Some(status),
                timed_out: false,
                latency: start.elapsed(),
                backend,
            }
        }
        Err(e) => Outcome {
            route: route_index,
            status: None,
            timed_out: e.is_timeout(),
            latency: start.elapsed(),
            backend: None,
        },
    }
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
