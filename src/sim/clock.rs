//! The scenario clock: scenario time runs `speed` times faster than wall time.
//!
//! Built on `tokio::time::Instant` so tests with a paused runtime advance it without sleeping.
//! Everything the simulator stamps (creation times, Event times, table ages) reads this clock,
//! so observers' thresholds hold at any speed. It must not be used to time real I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// A copyable handle on scenario time.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioClock {
    /// Wall instant at which scenario time was `start`.
    origin: Instant,
    /// Scenario time at `origin`.
    start: DateTime<Utc>,
    speed: f64,
}

impl ScenarioClock {
    /// Starts the clock now at scenario time `start`. `speed` must be positive and finite
    /// (the CLI validates it).
    pub fn start(start: DateTime<Utc>, speed: f64) -> ScenarioClock {
        ScenarioClock {
            origin: Instant::now(),
            start,
            speed,
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Scenario time at offset zero.
    pub fn epoch(&self) -> DateTime<Utc> {
        self.start
    }

    /// Scenario time elapsed since the start.
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed().mul_f64(self.speed)
    }

    /// The current scenario time.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(self.elapsed())
    }

    /// Scenario time at an offset from the start.
    pub fn at(&self, offset: Duration) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(offset).unwrap_or(chrono::Duration::MAX)
    }

    /// The wall duration that a scenario duration takes at this speed.
    pub fn wall(&self, scenario: Duration) -> Duration {
        scenario.div_f64(self.speed)
    }

    /// The wall instant at which scenario offset `at` is reached.
    pub fn instant_at(&self, at: Duration) -> Instant {
        self.origin + self.wall(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn runs_speed_times_faster() {
        let start: DateTime<Utc> = "2026-05-04T17:00:00Z".parse().unwrap();
        let clock = ScenarioClock::start(start, 20.0);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(clock.elapsed(), Duration::from_secs(60));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(60));
        assert_eq!(clock.wall(Duration::from_secs(40)), Duration::from_secs(2));
    }
}
