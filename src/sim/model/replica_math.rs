//! The model's replica arithmetic for canary and blue-green Rollouts, following Argo Rollouts'
//! rules (utils/replicaset/canary.go and replicaset.go, the algorithm in use since v1.2):
//! maxSurge/maxUnavailable resolution, the weighted canary/stable approximation, the basic and
//! traffic-routed canary counts, dynamicStableScale, setCanaryScale and the abort weights.
//!
//! Owns: pure functions over plain numbers ([`Canary`], [`Rs`]); no JSON, no store, no clock.
//! It must not be shared with the observers: `src/rollout/detect/replica_math.rs` is their
//! independent copy, so that a detector can catch a mistake here. Tests are the cases of
//! Argo's utils/replicaset/canary_test.go.

/// An int or a percentage, as Kubernetes' IntOrString in maxSurge/maxUnavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i32),
    Percent(i32),
}

impl IntOrPercent {
    /// From a manifest value: a number, or a string read as a percentage with or without its
    /// `%` (as apimachinery's GetValueFromIntOrPercent reads Argo's default "25").
    pub fn from_json(value: &serde_json::Value) -> Option<IntOrPercent> {
        match value {
            serde_json::Value::Number(n) => n.as_i64().map(|n| IntOrPercent::Int(n as i32)),
            serde_json::Value::String(s) => s
                .trim_end_matches('%')
                .parse()
                .ok()
                .map(IntOrPercent::Percent),
            _ => None,
        }
    }

    /// The value against `total`, rounding a percentage up or down.
    pub fn scaled(self, total: i32, round_up: bool) -> i32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let exact = f64::from(p) * f64::from(total) / 100.0;
                if round_up {
                    exact.ceil() as i32
                } else {
                    exact.floor() as i32
                }
            }
        }
    }
}

/// Argo's default maxSurge and maxUnavailable ("25", read as 25 %).
pub const DEFAULT_MAX_SURGE: IntOrPercent = IntOrPercent::Percent(25);
pub const DEFAULT_MAX_UNAVAILABLE: IntOrPercent = IntOrPercent::Percent(25);

/// One canary step, as far as the arithmetic cares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub set_weight: Option<i32>,
    pub set_canary_scale: Option<SetCanaryScale>,
}

/// A `setCanaryScale` step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetCanaryScale {
    pub replicas: Option<i32>,
    pub weight: Option<i32>,
    pub match_traffic_weight: bool,
}

/// What the arithmetic reads from a canary Rollout's spec and status.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    /// spec.replicas (default 1).
    pub replicas: i32,
    /// spec.strategy.canary.maxSurge (default 25 %).
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
    pub steps: Vec<Step>,
    pub traffic_routing: bool,
    /// trafficRouting.maxTrafficWeight (default 100).
    pub max_weight: i32,
    pub dynamic_stable_scale: bool,
    pub min_pods_per_replica_set: Option<i32>,
    /// abortScaleDownDelaySeconds as written (None: unset).
    pub abort_scale_down_delay_seconds: Option<i32>,
    pub abort: bool,
    pub promote_full: bool,
    /// status.stableRS (a pod-template-hash, empty before the first stable).
    pub stable_rs: String,
    /// status.currentPodHash.
    pub current_pod_hash: String,
    pub current_step_index: Option<i32>,
    /// spec.strategy.canary.replicaProgressThreshold (None: every desired pod available).
    pub replica_progress_threshold: Option<ProgressThreshold>,
}

/// replicaProgressThreshold: how many of a ReplicaSet's desired pods must be available for
/// the canary to move on (`type: Pods` a count, `type: Percent` a share of the desired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressThreshold {
    pub percent: bool,
    pub value: i32,
}

/// ReplicaProgressThresholdMet: without a threshold (or with a negative value) every desired
/// pod is created and available; with one, enough of them are available.
pub fn progress_threshold_met(
    threshold: Option<ProgressThreshold>,
    rs: Option<&Rs>,
    desired: i32,
) -> bool {
    let (Some(t), Some(rs)) = (threshold.filter(|t| t.value >= 0), rs) else {
        return rs.is_some_and(|r| r.replicas == desired && r.available == desired);
    };
    if t.percent {
        if desired == 0 {
            return true;
        }
        let current = f64::from(rs.available) / f64::from(desired) * 100.0;
        current >= f64::from(t.value) || (current - f64::from(t.value)).abs() <= 1e-10
    } else {
        rs.available >= t.value
    }
}

impl Default for Canary {
    fn default() -> Canary {
        Canary {
            replicas: 1,
            max_surge: DEFAULT_MAX_SURGE,
            max_unavailable: DEFAULT_MAX_UNAVAILABLE,
            steps: Vec::new(),
            traffic_routing: false,
            max_weight: 100,
            dynamic_stable_scale: false,
            min_pods_per_replica_set: None,
            abort_scale_down_delay_seconds: None,
            abort: false,
            promote_full: false,
            stable_rs: String::new(),
            current_pod_hash: String::new(),
            current_step_index: None,
            replica_progress_threshold: None,
        }
    }
}

/// A ReplicaSet as the arithmetic sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rs {
    pub name: String,
    /// spec.replicas.
    pub replicas: i32,
    /// status.availableReplicas.
    pub available: i32,
    /// status.replicas.
    pub status_replicas: i32,
}

/// The traffic weights the router reports (status.canary.weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub canary: i32,
    pub stable: i32,
}

/// maxSurge and maxUnavailable against `desired` replicas; both zero becomes unavailable 1.
pub fn resolve_fenceposts(
    max_surge: IntOrPercent,
    max_unavailable: IntOrPercent,
    desired: i32,
) -> (i32, i32) {
    let surge = max_surge.scaled(desired, true);
    let unavailable = max_unavailable.scaled(desired, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

impl Canary {
    pub fn max_surge(&self) -> i32 {
        resolve_fenceposts(self.max_surge, self.max_unavailable, self.replicas).0
    }

    pub fn max_unavailable(&self) -> i32 {
        if self.replicas == 0 {
            return 0;
        }
        let unavailable = resolve_fenceposts(self.max_surge, self.max_unavailable, self.replicas).1;
        unavailable.min(self.replicas)
    }

    /// The current step and its index; no step when there are no steps or all are done.
    pub fn current_step(&self) -> (Option<&Step>, Option<i32>) {
        if self.steps.is_empty() {
            return (None, None);
        }
        let index = self.current_step_index.unwrap_or(0);
        (self.steps.get(index.max(0) as usize), Some(index))
    }

    /// The last setWeight at or before the current step; 0 when aborted, the max weight when
    /// past the last step.
    pub fn current_set_weight(&self) -> i32 {
        if self.abort {
            return 0;
        }
        match self.current_step() {
            (Some(_), Some(index)) => (0..=index as usize)
                .rev()
                .find_map(|i| self.steps[i].set_weight)
                .unwrap_or(0),
            _ => self.max_weight,
        }
    }

    fn abort_delay_explicit(&self) -> bool {
        // Only traffic-routed canaries read abortScaleDownDelaySeconds; 0 means "never".
        self.traffic_routing && matches!(self.abort_scale_down_delay_seconds, Some(s) if s != 0)
    }

    /// The setCanaryScale in force, when traffic routing is used (and not overridden by a
    /// later matchTrafficWeight, nor by an abort unless abortScaleDownDelaySeconds is 0).
    pub fn use_set_canary_scale(&self) -> Option<&SetCanaryScale> {
        if !self.traffic_routing {
            return None;
        }
        if self.abort && self.abort_scale_down_delay_seconds != Some(0) {
            return None;
        }
        let (Some(_), Some(index)) = self.current_step() else {
            return None;
        };
        for i in (0..=index as usize).rev() {
            if let Some(scs) = &self.steps[i].set_canary_scale {
                return (!scs.match_traffic_weight).then_some(scs);
            }
        }
        None
    }

    /// The canary weight wanted now (GetDesiredCanaryWeight): on an abort with
    /// dynamicStableScale, the weight steps down through the setWeight steps as the stable
    /// comes back.
    pub fn desired_canary_weight(&self, new: Option<&Rs>, stable: Option<&Rs>) -> i32 {
        if let (true, true, Some(new), Some(stable)) =
            (self.abort, self.dynamic_stable_scale, new, stable)
        {
            let expected = self.replicas - stable.available;
            let canary = if self.abort_delay_explicit() {
                expected
            } else {
                expected.max(new.available)
            };
            return self
                .steps
                .iter()
                .rev()
                .filter_map(|s| s.set_weight)
                .find(|w| weight_to_replicas(self.replicas, *w, self.max_weight) < canary)
                .unwrap_or(0);
        }
        self.current_set_weight()
    }

    /// setCanaryScale replicas when in force, else the weight to aim for.
    pub fn canary_replicas_or_weight(
        &self,
        new: Option<&Rs>,
        stable: Option<&Rs>,
    ) -> (Option<i32>, i32) {
        if self.promote_full || self.stable_rs.is_empty() || self.current_pod_hash == self.stable_rs
        {
            return (None, self.max_weight);
        }
        if let Some(scs) = self.use_set_canary_scale() {
            if let Some(replicas) = scs.replicas {
                return (Some(replicas), 0);
            }
            if let Some(weight) = scs.weight {
                return (None, weight);
            }
        }
        (None, self.desired_canary_weight(new, stable))
    }

    /// At least minPodsPerReplicaSet (capped at spec.replicas) for a non-zero count, with
    /// traffic routing.
    pub fn check_min_pods(&self, count: i32) -> i32 {
        match (count, self.min_pods_per_replica_set, self.traffic_routing) {
            (0, _, _) | (_, None, _) | (_, _, false) => count,
            (_, Some(min), true) => count.max(min.min(self.replicas)),
        }
    }

    /// The new and stable ReplicaSet sizes for a canary without traffic routing
    /// (CalculateReplicaCountsForBasicCanary).
    pub fn basic_counts(&self, new: Option<&Rs>, stable: Option<&Rs>, older: &[Rs]) -> (i32, i32) {
        let spec = self.replicas;
        let (_, weight) = self.canary_replicas_or_weight(new, stable);
        let max_surge = self.max_surge();
        let (mut desired_new, mut desired_stable) =
            approximate_weighted_counts(spec, weight, self.max_weight, max_surge);
        let mut new_count = new.map_or(0, |r| r.replicas);
        let mut stable_count = 0;
        let scale_stable = stable_exists(new, stable);
        let stable = stable.filter(|_| scale_stable);
        match stable {
            Some(s) => stable_count = s.replicas,
            None => {
                desired_new = spec;
                desired_stable = 0;
            }
        }
        let max_allowed = spec + max_surge;
        let total: i32 = older.iter().map(|r| r.replicas).sum::<i32>()
            + new.map_or(0, |r| r.replicas)
            + stable.map_or(0, |r| r.replicas);
        let mut scale_up = max_allowed - total;
        if let Some(s) = stable
            && s.replicas < desired_stable
            && scale_up > 0
        {
            if s.replicas + scale_up < desired_stable {
                stable_count = s.replicas + scale_up;
                scale_up = 0;
            } else {
                stable_count = desired_stable;
                scale_up -= desired_stable - s.replicas;
            }
        }
        if let Some(n) = new
            && n.replicas < desired_new
            && scale_up > 0
        {
            new_count = (n.replicas + scale_up).min(desired_new);
        }
        if older.iter().map(|r| r.replicas).sum::<i32>() > 0 {
            return (new_count, stable_count);
        }
        let min_available = spec - self.max_unavailable();
        let increasing = new.is_none_or(|n| desired_new >= n.replicas);
        let to_scale_down =
            replicas_for_scale_down(new, !increasing) + replicas_for_scale_down(stable, increasing);
        if to_scale_down <= min_available {
            return (new_count, stable_count);
        }
        let scale_down = to_scale_down - min_available;
        if !increasing {
            new_count = scale_down_count(new, desired_new, scale_down, new_count);
            (new_count, stable_count) = adjust_within_limits(
                new,
                stable,
                new_count,
                stable_count,
                max_allowed,
                min_available,
            );
        } else if stable.is_some() {
            stable_count = scale_down_count(stable, desired_stable, scale_down, stable_count);
            (stable_count, new_count) = adjust_within_limits(
                stable,
                new,
                stable_count,
                new_count,
                max_allowed,
                min_available,
            );
        }
        (new_count, stable_count)
    }

    /// The new and stable sizes with traffic routing
    /// (CalculateReplicaCountsForTrafficRoutedCanary), given the router's current weights.
    pub fn traffic_routed_counts(
        &self,
        new: Option<&Rs>,
        stable: Option<&Rs>,
        weights: Option<Weights>,
    ) -> (i32, i32) {
        let spec = self.replicas;
        let (scs_replicas, weight) = self.canary_replicas_or_weight(new, stable);
        let mut canary = match scs_replicas {
            Some(r) => r,
            None => self.check_min_pods(weight_to_replicas(spec, weight, self.max_weight)),
        };
        if !self.dynamic_stable_scale {
            return (canary, spec);
        }
        let mut stable_count = weight_to_replicas(spec, self.max_weight - weight, self.max_weight);
        if let Some(w) = weights {
            stable_count = stable_count.max(weight_to_replicas(spec, w.stable, self.max_weight));
            if self.abort {
                canary = canary.max(weight_to_replicas(spec, w.canary, self.max_weight));
            }
        }
        (
            self.check_min_pods(canary),
            self.check_min_pods(stable_count),
        )
    }

    /// Whichever of [`Canary::basic_counts`] and [`Canary::traffic_routed_counts`] applies.
    pub fn counts(
        &self,
        new: Option<&Rs>,
        stable: Option<&Rs>,
        older: &[Rs],
        weights: Option<Weights>,
    ) -> (i32, i32) {
        if self.traffic_routing {
            self.traffic_routed_counts(new, stable, weights)
        } else {
            self.basic_counts(new, stable, older)
        }
    }

    /// True when the new ReplicaSet is at its desired size and available, the stable at its
    /// size (unless dynamicStableScale), and, without traffic routing, the older ones drained
    /// (AtDesiredReplicaCountsForCanary, without replicaProgressThreshold).
    pub fn at_desired_counts(
        &self,
        new: Option<&Rs>,
        stable: Option<&Rs>,
        older: &[Rs],
        weights: Option<Weights>,
    ) -> bool {
        let (desired_new, desired_stable) = self.counts(new, stable, older, weights);
        if !progress_threshold_met(self.replica_progress_threshold, new, desired_new) {
            return false;
        }
        if (!self.traffic_routing || !self.dynamic_stable_scale)
            && !stable.is_some_and(|s| {
                s.replicas == desired_stable && s.status_replicas == desired_stable
            })
        {
            return false;
        }
        self.traffic_routing || older.iter().map(|r| r.available).sum::<i32>() == 0
    }
}

/// The stable exists and is not the new ReplicaSet.
pub fn stable_exists(new: Option<&Rs>, stable: Option<&Rs>) -> bool {
    match (new, stable) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(n), Some(s)) => n.name != s.name,
    }
}

/// Replicas for `weight` of `replicas`, rounded up.
pub fn weight_to_replicas(replicas: i32, weight: i32, max_weight: i32) -> i32 {
    (f64::from(weight) * f64::from(replicas) / f64::from(max_weight)).ceil() as i32
}

/// The replicas of a ReplicaSet to count when scaling down: spec when it is already scaling
/// down or availability is ignored, else the available ones.
pub fn replicas_for_scale_down(rs: Option<&Rs>, ignore_availability: bool) -> i32 {
    match rs {
        None => 0,
        Some(rs) if rs.replicas < rs.available || ignore_availability => rs.replicas,
        Some(rs) => rs.available,
    }
}

fn scale_down_count(drain: Option<&Rs>, desired: i32, scale_down: i32, current: i32) -> i32 {
    match drain {
        Some(rs) if rs.replicas > desired => desired.max(rs.replicas - scale_down),
        _ => current,
    }
}

/// Keeps the two counts within maxSurge and maxUnavailable (adjustReplicaWithinLimits).
fn adjust_within_limits(
    drain: Option<&Rs>,
    adjust: Option<&Rs>,
    mut drain_count: i32,
    mut adjust_count: i32,
    max_allowed: i32,
    min_available: i32,
) -> (i32, i32) {
    let over = (adjust_count + drain_count - max_allowed).max(0);
    let mut available = drain.map_or(0, |d| d.available.min(drain_count));
    if let Some(a) = adjust {
        adjust_count -= over;
        available += a.available.min(adjust_count);
        let extra = (a.available - adjust_count).max(0);
        let needed = (min_available - available).max(0);
        adjust_count += extra.min(needed);
        drain_count -= (adjust_count + drain_count - max_allowed).max(0);
    }
    (drain_count, adjust_count)
}

fn tied(weight: i32, max_weight: i32, total: i32) -> bool {
    let x = f64::from(total) * (f64::from(weight) / f64::from(max_weight));
    x - x.trunc() == 0.5
}

fn weight_delta(weight: i32, max_weight: i32, canary: i32, total: i32) -> f64 {
    (f64::from(canary * max_weight) / f64::from(total) - f64::from(weight)).abs()
}

/// The canary and stable counts closest to `weight` of `replicas`, allowing one surge
/// replica when maxSurge permits and never 0 for a weight strictly between 0 and the max
/// (approximateWeightedCanaryStableReplicaCounts).
pub fn approximate_weighted_counts(
    replicas: i32,
    weight: i32,
    max_weight: i32,
    max_surge: i32,
) -> (i32, i32) {
    if replicas == 0 {
        return (0, 0);
    }
    let exact = f64::from(replicas * weight) / f64::from(max_weight);
    let (ceil, floor) = (exact.ceil() as i32, exact.floor() as i32);
    let zero_allowed = weight == max_weight || weight == 0 || (replicas == 1 && max_surge == 0);
    let mut options = Vec::new();
    if ceil < replicas || zero_allowed {
        options.push((ceil, replicas));
    }
    if !tied(weight, max_weight, replicas) && (floor != 0 || zero_allowed) {
        options.push((floor, replicas));
    }
    if max_surge > 0 {
        options.push((ceil, replicas + 1));
        if !tied(weight, max_weight, replicas + 1) && (floor != 0 || zero_allowed) {
            options.push((floor, replicas + 1));
        }
    }
    let Some(&first) = options.first() else {
        return (0, replicas);
    };
    let mut best = first;
    let mut best_delta = weight_delta(weight, max_weight, best.0, best.1);
    for &option in &options[1..] {
        let delta = weight_delta(weight, max_weight, option.0, option.1);
        if delta < best_delta {
            best = option;
            best_delta = delta;
        }
    }
    (best.0, best.1 - best.0)
}

/// maxUnavailable for a blue-green Rollout (no fencepost adjustment), capped at replicas.
pub fn bluegreen_max_unavailable(max_unavailable: Option<IntOrPercent>, replicas: i32) -> i32 {
    if replicas == 0 {
        return 0;
    }
    max_unavailable
        .unwrap_or(DEFAULT_MAX_UNAVAILABLE)
        .scaled(replicas, false)
        .min(replicas)
}

#[cfg(test)]
#[path = "replica_math_tests.rs"]
mod tests;
