//! The cluster's clock, read from the API itself so thresholds hold at any simulator speed and
//! on a real cluster.
//!
//! A probe asks `/version` periodically (cheap: no object is read) and keeps the latest reading:
//! the simulator stamps every response with its scenario time in milliseconds and its speed
//! ([`crate::sim::time_header`]); a real API server's `Date` header has a 1 s resolution and the
//! cluster runs at speed 1, so the local clock, anchored on that `Date`, serves.
//!
//! A reading gives two bounds on the cluster's now: [`ClusterTime::earliest`] (the reading
//! advanced from when the answer arrived) and [`ClusterTime::latest`] (the reading, plus its
//! resolution, advanced from when the request left). Thresholds compare against the earliest,
//! so they never fire before they are reached; the moment a condition is first seen is dated
//! with the latest, so uncertainty only ever delays a finding. Between readings the bounds
//! advance at the reading's speed.
//!
//! It must not read object timestamps: between changes they go stale, and extrapolating them
//! with wall time drifts by the simulator's speed factor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use kube::Client;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The simulator's scenario time on every response (RFC 3339, milliseconds). The same names
/// as `crate::sim::time_header` — repeated, not imported: observers do not reach into the
/// simulator; the end-to-end tests hold the two together.
pub const TIME_HEADER: &str = "x-warroom-scenario-time";
/// The simulator's speed (scenario seconds per wall second).
pub const SPEED_HEADER: &str = "x-warroom-scenario-speed";

/// One reading of the cluster's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The cluster's time in the answer.
    pub at: DateTime<Utc>,
    /// How coarse `at` is (1 s for an HTTP `Date`, 1 ms for the simulator's header).
    pub resolution: TimeDelta,
    /// Cluster seconds per wall second.
    pub speed: f64,
    /// When the request left and the answer arrived (wall).
    pub sent: Instant,
    pub received: Instant,
}

impl Reading {
    /// Reads the simulator's headers, else `Date`; None when neither is there or parses.
    pub fn from_headers(
        headers: &axum::http::HeaderMap,
        sent: Instant,
        received: Instant,
    ) -> Option<Reading> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(at) = text(TIME_HEADER).and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
            let speed = text(SPEED_HEADER)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .unwrap_or(1.0);
            return Some(Reading {
                at: at.with_timezone(&Utc),
                resolution: TimeDelta::milliseconds(1),
                speed,
                sent,
                received,
            });
        }
        let date = text("date").and_then(|d| DateTime::parse_from_rfc2822(d).ok())?;
        Some(Reading {
            at: date.with_timezone(&Utc),
            resolution: TimeDelta::seconds(1),
            speed: 1.0,
            sent,
            received,
        })
    }

    fn advanced(&self, from: Instant, now: Instant) -> TimeDelta {
        let wall = now.saturating_duration_since(from).as_secs_f64() * self.speed;
        TimeDelta::microseconds((wall * 1e6) as i64)
    }
}

/// The cluster's now, as bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterTime {
    /// The cluster's now is at least this: compare thresholds with it.
    pub earliest: DateTime<Utc>,
    /// The cluster's now is at most this: date first sightings with it.
    pub latest: DateTime<Utc>,
    /// Cluster seconds per wall second.
    pub speed: f64,
}

impl ClusterTime {
    /// The wall time until the cluster's earliest now reaches `at` (zero when it has).
    pub fn wall_until(&self, at: DateTime<Utc>) -> Duration {
        let cluster = (at - self.earliest).to_std().unwrap_or(Duration::ZERO);
        cluster.div_f64(self.speed)
    }
}

/// The latest reading, shared between the probe and whoever needs the time. A std mutex: held
/// for a copy, never across an await.
#[derive(Debug, Clone, Default)]
pub struct ClusterClock {
    reading: Arc<Mutex<Option<Reading>>>,
}

impl ClusterClock {
    /// A clock with no reading yet.
    pub fn new() -> ClusterClock {
        ClusterClock::default()
    }

    /// Keeps `r` (a reading older than the one held is dropped: answers can arrive out of
    /// order).
    pub fn record(&self, r: Reading) {
        let mut held = self.reading.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_none_or(|h| r.received >= h.received) {
            *held = Some(r);
        }
    }

    /// The cluster's now at wall instant `now`, None before the first reading.
    pub fn at(&self, now: Instant) -> Option<ClusterTime> {
        let r = (*self.reading.lock().unwrap_or_else(|e| e.into_inner()))?;
        Some(ClusterTime {
            earliest: r.at + r.advanced(r.received, now),
            latest: r.at + r.resolution + r.advanced(r.sent, now),
            speed: r.speed,
        })
    }

    /// The cluster's now.
    pub fn now(&self) -> Option<ClusterTime> {
        self.at(Instant::now())
    }

    /// Asks the API once; records and returns the reading.
    pub async fn probe(&self, client: &Client) -> Option<Reading> {
        let request = axum::http::Request::get("/version")
            .body(kube::client::Body::from(Vec::new()))
            .ok()?;
        let sent = Instant::now();
        let response = client.send(request).await.ok()?;
        let received = Instant::now();
        let reading = Reading::from_headers(response.headers(), sent, received)?;
        self.record(reading);
        Some(reading)
    }

    /// The cluster's now for a one-off view (`rollout get`, `list`): the simulator's scenario
    /// time when the API carries it (its clock is not the local one), else the local clock, as
    /// the Argo plugin reads ages against a real cluster (an HTTP `Date` is only to the second).
    pub async fn now_for_view(client: &Client) -> DateTime<Utc> {
        let clock = ClusterClock::new();
        match clock.probe(client).await {
            Some(r) if r.resolution < TimeDelta::seconds(1) => {
                clock.now().map_or_else(Utc::now, |t| t.earliest)
            }
            _ => Utc::now(),
        }
    }

    /// Probes until `cancel`: every 250 ms against the simulator (a scenario at speed 100 moves
    /// 25 s between probes, so the reading must stay fresh), every 5 s against a real cluster
    /// (speed 1: the local clock carries it).
    pub async fn run(self, client: Client, cancel: CancellationToken) {
        loop {
            let reading = self.probe(&client).await;
            let every = match reading {
                Some(r) if r.resolution < TimeDelta::seconds(1) => Duration::from_millis(250),
                Some(_) => Duration::from_secs(5),
                // No answer: try again soon.
                None => Duration::from_millis(500),
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn the_scenario_header_advances_at_its_speed_and_bounds_hold() {
        let clock = ClusterClock::new();
        assert!(clock.now().is_none());
        let sent = Instant::now();
        tokio::time::advance(Duration::from_millis(10)).await;
        let received = Instant::now();
        let r = Reading::from_headers(
            &headers(&[
                (TIME_HEADER, "2026-05-04T17:00:00.500Z"),
                (SPEED_HEADER, "20"),
                ("date", "Mon, 04 May 2026 17:00:00 GMT"),
            ]),
            sent,
            received,
        )
        .unwrap();
        assert_eq!(r.speed, 20.0);
        clock.record(r);
        tokio::time::advance(Duration::from_secs(1)).await;
        let t = clock.now().unwrap();
        let at: DateTime<Utc> = "2026-05-04T17:00:00.500Z".parse().unwrap();
        assert_eq!(t.earliest, at + TimeDelta::seconds(20));
        // The request's 10 ms in flight at speed 20, plus the 1 ms resolution.
        assert_eq!(t.latest, at + TimeDelta::milliseconds(20_201));
        assert_eq!(
            t.wall_until(at + TimeDelta::seconds(30)),
            Duration::from_millis(500)
        );
        assert_eq!(t.wall_until(at), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_real_api_servers_date_is_a_second_coarse_at_speed_1() {
        let now = Instant::now();
        let r = Reading::from_headers(
            &headers(&[("date", "Mon, 04 May 2026 17:00:00 GMT")]),
            now,
            now,
        )
        .unwrap();
        assert_eq!(r.speed, 1.0);
        let clock = ClusterClock::new();
        clock.record(r);
        tokio::time::advance(Duration::from_secs(2)).await;
        let t = clock.now().unwrap();
        let at: DateTime<Utc> = "2026-05-04T17:00:00Z".parse().unwrap();
        assert_eq!(t.earliest, at + TimeDelta::seconds(2));
        assert_eq!(t.latest, at + TimeDelta::seconds(3));
        assert!(Reading::from_headers(&HeaderMap::new(), now, now).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn an_older_answer_never_replaces_a_newer_one() {
        let clock = ClusterClock::new();
        let early = Instant::now();
        tokio::time::advance(Duration::from_secs(1)).await;
        let late = Instant::now();
        let at = |s: &str| Reading {
            at: s.parse().unwrap(),
            resolution: TimeDelta::milliseconds(1),
            speed: 1.0,
            sent: early,
            received: early,
        };
        clock.record(Reading {
            received: late,
            ..at("2026-05-04T17:00:10Z")
        });
        clock.record(at("2026-05-04T17:00:00Z"));
        assert_eq!(
            clock.at(late).unwrap().earliest,
            "2026-05-04T17:00:10Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
