//! The held-out scenarios (`tests/heldout/NAME.yaml`, hand-written in the object form or, for
//! the model to derive the cluster, the short form, and never tuned against): each is played
//! by the real `warroom sim` with the three real observers (`warroom agent pipeline`,
//! `data-plane` and, when the expectation names routes, `traffic`)
//! posting to a channel in a temp store, exactly as a user runs them. The alerts they raise
//! are compared with the written expectation beside the scenario (`NAME.expect.yaml`, derived
//! from Argo's and Kubernetes' rules, each with its reason):
//!
//! - every expected alert fires (0 misses) and no other alert does (0 false alarms);
//! - every expected resolution is posted, and no other alert is resolved;
//! - no condition is alerted twice while it is open (one alert per condition).
//!
//! An alert is identified by its headline (`**title** — **subject**: …`, docs/OBSERVERS.md):
//! the detector's slug (the title for data-plane alerts, `route-failing` for traffic) and the
//! object as `Kind/namespace/name`. Waits are bounded by a deadline; no duration is asserted.

mod play_harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use play_harness::{Condition, Plan};
use serde::Deserialize;

/// `NAME.expect.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    /// What the scenario plays and why the expectation is what it is (Argo's rules).
    #[allow(dead_code)]
    why: String,
    /// The namespace the pipeline and data-plane observers watch (every Rollout in it).
    namespace: String,
    /// Simulator speed.
    #[serde(default = "default_speed")]
    speed: f64,
    /// Synthetic traffic against the simulator's backend, when the scenario has routes.
    #[serde(default)]
    traffic: Option<Traffic>,
    /// Alerts that must fire; every other alert is a false alarm.
    #[serde(default)]
    alerts: Vec<Expected>,
    /// Alerts that must be resolved before the end; no other alert may be.
    #[serde(default)]
    resolved: Vec<Expected>,
    /// Text some entry must hold (e.g. a blue-green headline in blue-green terms).
    #[serde(default)]
    said: Vec<String>,
    /// Text no entry may hold.
    #[serde(default)]
    never_said: Vec<String>,
    /// Text exactly one entry holds (a measurement said once, not again).
    #[serde(default)]
    said_once: Vec<String>,
}

fn default_speed() -> f64 {
    20.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Traffic {
    routes: Vec<String>,
    #[serde(default = "default_rate")]
    rate: String,
}

fn default_rate() -> String {
    "10/s".into()
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct Expected {
    detector: String,
    object: String,
    #[allow(dead_code)]
    #[serde(default)]
    why: String,
}

fn heldout_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/heldout")
}

fn conditions(list: &[Expected]) -> Vec<Condition> {
    list.iter()
        .map(|e| (e.detector.clone(), e.object.clone()))
        .collect()
}

/// Plays `tests/heldout/NAME.yaml` with the three observers and checks its expectation.
fn play(name: &str) {
    let dir = heldout_dir();
    let scenario_path = dir.join(format!("{name}.yaml"));
    let expect_path = dir.join(format!("{name}.expect.yaml"));
    let expect: Expectation = serde_saphyr::from_str(
        &std::fs::read_to_string(&expect_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
    let scenario = warroom::sim::Scenario::from_file(&scenario_path)
        .unwrap_or_else(|e| panic!("{:#}", anyhow::Error::from(e)));
    let mut plan = Plan::new(
        name,
        scenario_path.to_str().unwrap(),
        scenario.end,
        &expect.namespace,
        expect.speed,
    );
    if let Some(t) = &expect.traffic {
        plan.routes = t.routes.clone();
        plan.rate = t.rate.clone();
    }
    plan.alerts = conditions(&expect.alerts);
    plan.resolved = conditions(&expect.resolved);
    plan.said = expect.said;
    plan.never_said = expect.never_said;
    plan.said_once = expect.said_once;
    play_harness::play(plan).finish(Vec::new());
}

macro_rules! heldout {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                play($name);
            }
        )*

        /// Every scenario in tests/heldout/ has its expectation and its test above.
        #[test]
        fn every_heldout_scenario_is_played() {
            let played: BTreeSet<&str> = [$($name),*].into_iter().collect();
            let mut found = BTreeSet::new();
            for e in std::fs::read_dir(heldout_dir()).unwrap() {
                let file = e.unwrap().file_name().into_string().unwrap();
                if let Some(name) = file.strip_suffix(".expect.yaml") {
                    assert!(
                        heldout_dir().join(format!("{name}.yaml")).exists(),
                        "{file} has no scenario"
                    );
                } else if let Some(name) = file.strip_suffix(".yaml") {
                    assert!(
                        heldout_dir().join(format!("{name}.expect.yaml")).exists(),
                        "{file} has no expectation"
                    );
                    found.insert(name.to_string());
                }
            }
            let found: BTreeSet<&str> = found.iter().map(String::as_str).collect();
            assert_eq!(found, played, "add a line to heldout! for each scenario");
        }
    };
}

heldout! {
    canary_500s_fail_the_route_and_the_analysis_then_recover => "canary-500s-abort-recovers",
    canary_promote_during_a_step_analysis_terminates_it_silently => "canary-promote-during-analysis",
    canary_weights_out_of_max_traffic_weight_1000 => "canary-max-weight-1000",
    canary_dynamic_stable_scale_abort_drains_behind_traffic => "canary-dynamic-abort",
    canary_background_failure_then_a_fixed_release_resolves => "canary-background-fails-then-fix",
    canary_slow_ready_past_the_deadline_then_progressing => "canary-slow-ready-deadline",
    canary_manual_pause_and_two_rollouts_are_silent => "canary-manual-pause-two-rollouts",
    canary_set_canary_scale_with_dynamic_stable_scale_is_silent => "canary-setcanaryscale-dynamic",
    canary_max_surge_0_and_percent_unavailable_is_silent => "canary-maxsurge0-percent",
    canary_provider_errors_past_consecutive_error_limit_abort => "canary-provider-errors-abort",
    canary_background_inconclusive_from_starting_step_pauses => "canary-background-inconclusive",
    canary_abort_then_retry_resolves_degraded => "canary-abort-retry",
    canary_release_during_a_release_is_silent => "canary-release-mid-canary",
    canary_scaled_mid_canary_is_silent => "canary-scaled-mid-canary",
    canary_weights_0_and_100_are_silent => "canary-weight-0-and-100",
    canary_undo_mid_canary_is_a_silent_fast_rollback => "canary-undo-mid-canary",
    canary_promote_full_with_scale_down_delay_is_silent => "canary-promote-full-routed",
    bluegreen_prepromotion_analysis_fails => "bluegreen-prepromotion-fails",
    crashloop_to_progress_deadline_without_abort => "crashloop-deadline-noabort",
    manual_pause_held_for_an_hour_is_silent => "manual-pause-hour",
    twelve_replicas_at_10_percent_is_silent => "canary-12-at-10",
    ci_job_resets_a_selector_then_restores_it => "ci-selector-reset",
    argos_docs_istio_success_rate_is_blind_to_4xx => "istio-success-rate-4xx",
    an_envoy_5xx_class_ratio_is_blind_to_429s => "envoy-5xx-class-4xx",
    controller_lag_under_the_threshold_is_silent_at_speed_5 => "controller-lag",
    a_repeating_warning_is_one_alert_resolved_after_5_minutes => "repeating-warning",
    merged_envoy_templates_checking_4xx_are_not_blind => "envoy-merged-not-blind",
    traffic_routed_canary_short_pause_and_retention => "traffic-routed-canary",
    bg_manual_promotion_with_preview_count_held_is_silent => "bg-manual-preview-count",
    bg_postpromotion_analysis_fails_and_switches_back => "bg-postpromotion-fails",
    bg_crashloop_to_progress_deadline_abort_and_not => "bg-crashloop-deadline",
    bg_workloadref_progressively_vs_onsuccess_missed => "bg-workloadref-migrations",
    bg_cluster_template_provider_errors_then_recovers => "bg-cluster-template-errors",
    bg_consecutive_success_limits_promote_or_inconclusive => "bg-success-limits",
    bg_ci_job_strips_the_active_service_hash => "bg-ci-active-selector",
    bg_operator_aborts_keep_or_scale_down_the_preview_then_retry => "bg-abort-retry",
    bg_workloadref_never_leaks_until_scaled_to_zero => "bg-workloadref-never-fixed",
    bg_a_5xx_only_prepromotion_gate_promotes_a_429ing_version => "bg-blind-prepromotion",
}
