//! A short-form scenario's written expectation (`expect:`): which observer alerts must fire,
//! on which object, and whether every other alert is a false alarm.
//!
//! Owns the expectation's shape and its load-time checks (a detector the observers do not
//! have, an object written in no form an alert names). It must not judge a run: the tests
//! (tests/sim_library_play.rs) compare the observers' alerts with it.

use serde::{Deserialize, Serialize};

use crate::rollout::detect::Detector;

/// The data-plane observer's alert conditions, as its headlines name them (docs/OBSERVERS.md,
/// "Every alert"), slugged.
pub const DATA_PLANE_DETECTORS: &[(&str, &str)] = &[
    ("pod-crash-looping", "pod crash-looping"),
    ("image-pull-failing", "image pull failing"),
    ("container-config-error", "container config error"),
    ("job-failed", "Job failed"),
];
/// The traffic observer's alert condition.
pub const TRAFFIC_DETECTOR: &str = "route-failing";
/// The pipeline's alert for a named Rollout that does not exist.
pub const ROLLOUT_MISSING: &str = "rollout-missing";

/// What must happen when the scenario plays with the three observers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Each must fire at least once.
    #[serde(default)]
    pub alerts: Vec<ExpectedAlert>,
    /// Alerts that must be resolved (the condition cleared and the observer that raised the
    /// alert said so) before the end; no other alert may be.
    #[serde(default)]
    pub resolved: Vec<ExpectedAlert>,
    /// Which other alerts count as false alarms.
    #[serde(default)]
    pub silent: Silence,
    /// Work that must land before this expectation can pass (`[judgement]`): the tests report
    /// it as pending instead of failing or silently passing.
    #[serde(default, rename = "waits-on")]
    pub waits_on: Vec<String>,
}

/// One alert that must fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    /// A detector slug: the pipeline's (`rollout-degraded`), the data-plane's
    /// (`pod-crash-looping`) or the traffic observer's (`route-failing`).
    pub detector: String,
    /// `Kind/namespace/name` (`Rollout/shop/web`; a trailing `*` matches any rest, for names
    /// the controller derives: `ReplicaSet/shop/web-*`), or `route/METHOD PATH` for traffic.
    pub object: String,
}

/// Which alerts beyond the expected ones are false alarms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Silence {
    /// Every alert not listed is a false alarm.
    #[default]
    AllOthers,
}

/// Which observer raises alerts of `detector`, when it is one.
pub fn observer_of(detector: &str) -> Option<&'static str> {
    if detector == TRAFFIC_DETECTOR {
        return Some("traffic");
    }
    if DATA_PLANE_DETECTORS
        .iter()
        .any(|(slug, _)| *slug == detector)
    {
        return Some("data-plane");
    }
    if detector == ROLLOUT_MISSING || Detector::from_slug(detector).is_some_and(Detector::is_alert)
    {
        return Some("pipeline");
    }
    None
}

/// Every detector an expectation may name, for messages.
pub fn known_detectors() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Detector::ALL
        .iter()
        .filter(|d| d.is_alert())
        .map(|d| d.slug())
        .collect();
    all.push(ROLLOUT_MISSING);
    all.extend(DATA_PLANE_DETECTORS.iter().map(|(slug, _)| *slug));
    all.push(TRAFFIC_DETECTOR);
    all
}

impl ExpectedAlert {
    /// Whether an alert about `object` (`Kind/namespace/name`, or `route/METHOD PATH`)
    /// matches this expectation's object.
    pub fn matches_object(&self, object: &str) -> bool {
        match self.object.strip_suffix('*') {
            Some(prefix) => object.starts_with(prefix),
            None => object == self.object,
        }
    }

    /// Checks the detector and the object's form; the message says what to write instead.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let Some(observer) = observer_of(&self.detector) else {
            return Err((
                "detector",
                format!(
                    "{:?} is not a detector; known: {}",
                    self.detector,
                    known_detectors().join(", ")
                ),
            ));
        };
        if observer == "traffic" {
            let route = self.object.strip_prefix("route/").unwrap_or("");
            if route
                .split_once(' ')
                .is_none_or(|(_, p)| !p.starts_with('/'))
            {
                return Err((
                    "object",
                    format!(
                        "{:?}: a route-failing alert is about a route: write route/METHOD PATH (route/POST /v1/embeddings)",
                        self.object
                    ),
                ));
            }
            return Ok(());
        }
        let parts: Vec<&str> = self.object.splitn(3, '/').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err((
                "object",
                format!(
                    "{:?}: write Kind/namespace/name (Rollout/shop/web; ReplicaSet/shop/web-* for a derived name)",
                    self.object
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detector_is_documented() {
        let doc = include_str!("../../../docs/OBSERVERS.md");
        for slug in Detector::ALL.iter().map(|d| d.slug()) {
            assert!(doc.contains(&format!("`{slug}`")), "{slug}");
        }
        for (_, title) in DATA_PLANE_DETECTORS {
            assert!(doc.contains(title), "{title}");
        }
        assert!(doc.contains("route failing"));
    }

    #[test]
    fn objects_match_exactly_or_by_prefix() {
        let exact = ExpectedAlert {
            detector: "rollout-degraded".into(),
            object: "Rollout/shop/web".into(),
        };
        assert!(exact.matches_object("Rollout/shop/web"));
        assert!(!exact.matches_object("Rollout/shop/web2"));
        let derived = ExpectedAlert {
            detector: "pod-crash-looping".into(),
            object: "ReplicaSet/shop/web-*".into(),
        };
        assert!(derived.matches_object("ReplicaSet/shop/web-6c8d9f7b4f"));
        assert!(exact.check().is_ok() && derived.check().is_ok());
        let bad = ExpectedAlert {
            detector: "rollout-sad".into(),
            object: "Rollout/shop/web".into(),
        };
        assert!(bad.check().unwrap_err().1.contains("rollout-degraded"));
        let route = ExpectedAlert {
            detector: "route-failing".into(),
            object: "Rollout/shop/web".into(),
        };
        assert_eq!(route.check().unwrap_err().0, "object");
    }
}
