//! How many pods Argo Rollouts gives the canary and the stable ReplicaSet, re-derived from the
//! controller's rules (utils/replicaset/canary.go since v1.2; utils/replicaset/replicaset.go for
//! maxSurge/maxUnavailable; utils/defaults for the 25 % defaults).
//!
//! This is the observers' own arithmetic. The simulator has its own, written separately: a
//! detector that shared the simulator's function could never catch it. Both are checked against
//! every case of Argo's utils/replicaset/canary_test.go (see the tests below).
//!
//! Rules, in words:
//! - **Weight to pods, basic canary**: of the candidate (canary, total) pairs — ceil and floor of
//!   `replicas × weight / maxWeight`, over `replicas` and, when surge is allowed, `replicas + 1`
//!   — the one whose canary share is closest to the weight wins; the first listed wins a tie.
//!   A weight strictly between 0 and max never rounds the canary to 0 pods unless a single
//!   replica with no surge leaves no choice, and a ceil that would take every replica is only a
//!   candidate when the weight is 0 or max (or that single replica).
//! - **One reconcile step, basic canary**: scale up (stable first) within `replicas + maxSurge`,
//!   then scale down (older ReplicaSets first, then the side that is shrinking) without going
//!   below `replicas − maxUnavailable` available pods.
//! - **Traffic routing**: the canary gets `ceil(replicas × weight / maxWeight)` pods (or
//!   `setCanaryScale`), the stable keeps every replica unless `dynamicStableScale`, and
//!   `minPodsPerReplicaSet` is a floor for both.
//!
//! Pure arithmetic over small inputs; it must not read objects or clocks.

use crate::rollout::model::{IntOrPercent, Rollout};

/// The maximum traffic weight: `trafficRouting.maxTrafficWeight`, else 100.
pub fn max_weight(ro: &Rollout) -> i32 {
    ro.spec
        .strategy
        .canary
        .as_ref()
        .and_then(|c| c.traffic_routing.as_ref())
        .and_then(|t| t.max_traffic_weight)
        .unwrap_or(100)
}

/// An int or a percentage of `total`, as Kubernetes' legacy `GetValueFromIntOrPercent` reads
/// it: any string is a percentage (a trailing `%` is optional), rounded up or down.
fn scaled(value: &IntOrPercent, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrPercent::Int(n) => Some(*n),
        IntOrPercent::Text(text) => {
            let percent: i64 = text.trim().trim_end_matches('%').trim().parse().ok()?;
            let product = percent * i64::from(total);
            let v = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(v).ok()
        }
    }
}

/// maxSurge and maxUnavailable of a canary in pods. Absent values default to 25 %; when both
/// resolve to 0, maxUnavailable becomes 1 (Argo's fencepost rule). An unreadable value makes
/// both 0, as the controller's ignored error does.
pub fn fenceposts(ro: &Rollout) -> (i32, i32) {
    let replicas = ro.desired_replicas();
    let default = IntOrPercent::Text("25%".into());
    let canary = ro.spec.strategy.canary.as_ref();
    let surge_spec = canary
        .and_then(|c| c.max_surge.clone())
        .unwrap_or_else(|| default.clone());
    let unavailable_spec = canary
        .and_then(|c| c.max_unavailable.clone())
        .unwrap_or(default);
    let (Some(surge), Some(mut unavailable)) = (
        scaled(&surge_spec, replicas, true),
        scaled(&unavailable_spec, replicas, false),
    ) else {
        return (0, 0);
    };
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// maxSurge in pods (0 when the Rollout is not a canary).
pub fn max_surge(ro: &Rollout) -> i32 {
    if ro.spec.strategy.canary.is_none() {
        return 0;
    }
    fenceposts(ro).0
}

/// maxUnavailable in pods, at most `replicas`.
pub fn max_unavailable(ro: &Rollout) -> i32 {
    let replicas = ro.desired_replicas();
    if replicas == 0 {
        return 0;
    }
    fenceposts(ro).1.min(replicas)
}

/// `|canary share − weight|` for a candidate split.
fn distance(weight: i32, max_weight: i32, canary: i32, total: i32) -> f64 {
    let share = f64::from(canary) * f64::from(max_weight) / f64::from(total);
    (share - f64::from(weight)).abs()
}

/// Whether `total × weight / max` sits exactly halfway between two integers (then floor and
/// ceil are equally close and the larger, ceil, is taken).
fn halfway(weight: i32, max_weight: i32, total: i32) -> bool {
    let exact = f64::from(total) * (f64::from(weight) / f64::from(max_weight));
    exact.fract() == 0.5
}

/// The (canary, stable) pods that best approximate `weight` of `replicas` for a basic canary.
pub fn weighted_split(replicas: i32, weight: i32, max_weight: i32, surge: i32) -> (i32, i32) {
    if replicas == 0 {
        return (0, 0);
    }
    let exact = f64::from(replicas * weight) / f64::from(max_weight);
    let up = exact.ceil() as i32;
    let down = exact.floor() as i32;
    let zero_ok = weight == max_weight || weight == 0 || (replicas == 1 && surge == 0);
    let mut candidates: Vec<(i32, i32)> = Vec::with_capacity(4);
    if up < replicas || zero_ok {
        candidates.push((up, replicas));
    }
    let down_ok = down != 0 || zero_ok;
    if !halfway(weight, max_weight, replicas) && down_ok {
        candidates.push((down, replicas));
    }
    if surge > 0 {
        candidates.push((up, replicas + 1));
        if !halfway(weight, max_weight, replicas + 1) && down_ok {
            candidates.push((down, replicas + 1));
        }
    }
    let Some(mut best) = candidates.first().copied() else {
        return (0, replicas);
    };
    for c in candidates.into_iter().skip(1) {
        if distance(weight, max_weight, c.0, c.1) < distance(weight, max_weight, best.0, best.1) {
            best = c;
        }
    }
    (best.0, best.1 - best.0)
}

/// `ceil(replicas × weight / max)`: pods for a traffic weight.
pub fn pods_for_weight(replicas: i32, weight: i32, max_weight: i32) -> i32 {
    (f64::from(weight) * f64::from(replicas) / f64::from(max_weight)).ceil() as i32
}

/// A ReplicaSet as the arithmetic sees it: its name, desired and available pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pods {
    pub name: String,
    pub desired: i32,
    pub available: i32,
}

/// The current step and its index, None past the last step or without steps.
fn current_step(ro: &Rollout) -> (Option<usize>, Option<i32>) {
    let Some(canary) = &ro.spec.strategy.canary else {
        return (None, None);
    };
    if canary.steps.is_empty() {
        return (None, None);
    }
    let index = ro.status.current_step_index.unwrap_or(0);
    let at = usize::try_from(index)
        .ok()
        .filter(|i| *i < canary.steps.len());
    (at, Some(index))
}

/// The setWeight in force: 0 when aborted, max past the last step, else the last setWeight at
/// or before the current step (0 when none).
pub fn current_set_weight(ro: &Rollout) -> i32 {
    if ro.status.abort {
        return 0;
    }
    let (at, _) = current_step(ro);
    let Some(at) = at else {
        return max_weight(ro);
    };
    let steps = &ro.spec.strategy.canary.as_ref().expect("checked").steps;
    steps[..=at]
        .iter()
        .rev()
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// Whether an abort keeps the canary scaled per `abortScaleDownDelaySeconds` (set to a
/// non-zero value; with traffic routing the default, 30 s, counts as "a delay" but not as set).
fn abort_delay(ro: &Rollout) -> (bool, bool) {
    let Some(c) = &ro.spec.strategy.canary else {
        return (true, false);
    };
    match (
        c.traffic_routing.is_some(),
        c.abort_scale_down_delay_seconds,
    ) {
        (true, Some(0)) => (false, true),
        (true, Some(_)) => (true, true),
        (true, None) => (true, false),
        // Without traffic routing the delay is 0 s: present, never "set".
        (false, _) => (true, false),
    }
}

/// The setCanaryScale in force (traffic routing only): the last one at or before the current
/// step, unless a later-seen `matchTrafficWeight` cancels it or an abort with a scale-down
/// delay ignores it.
fn set_canary_scale(ro: &Rollout) -> Option<(Option<i32>, Option<i32>)> {
    let canary = ro.spec.strategy.canary.as_ref()?;
    canary.traffic_routing.as_ref()?;
    if ro.status.abort && abort_delay(ro).0 {
        return None;
    }
    let (at, _) = current_step(ro);
    let at = at?;
    for step in canary.steps[..=at].iter().rev() {
        let Some(scs) = &step.set_canary_scale else {
            continue;
        };
        if scs.match_traffic_weight {
            return None;
        }
        return Some((scs.replicas, scs.weight));
    }
    None
}

/// The weight the controller is steering for, during a dynamic-stable-scale abort: the largest
/// step weight whose pods are fewer than the canary still has (so the stable grows back step by
/// step).
fn abort_weight(ro: &Rollout, new: &Pods, stable: &Pods) -> i32 {
    let max = max_weight(ro);
    let replicas = ro.desired_replicas();
    let expected = replicas - stable.available;
    let mut canary = expected.max(new.available);
    if let (true, true) = abort_delay(ro) {
        canary = expected;
    }
    let steps = &ro.spec.strategy.canary.as_ref().expect("canary").steps;
    for step in steps.iter().rev() {
        if let Some(w) = step.set_weight
            && pods_for_weight(replicas, w, max) < canary
        {
            return w;
        }
    }
    0
}

/// The canary's desired replicas (when setCanaryScale names them) or weight.
pub fn desired_replicas_or_weight(
    ro: &Rollout,
    new: Option<&Pods>,
    stable: Option<&Pods>,
) -> (Option<i32>, i32) {
    let st = &ro.status;
    if st.promote_full || st.stable_rs.is_empty() || st.current_pod_hash == st.stable_rs {
        return (None, max_weight(ro));
    }
    if let Some((replicas, weight)) = set_canary_scale(ro) {
        if let Some(r) = replicas {
            return (Some(r), 0);
        }
        if let Some(w) = weight {
            return (None, w);
        }
    }
    (None, desired_canary_weight(ro, new, stable))
}

/// The canary weight the controller steers for: the step's setWeight, or during an abort with
/// `dynamicStableScale` the weight that lets the stable grow back step by step.
pub fn desired_canary_weight(ro: &Rollout, new: Option<&Pods>, stable: Option<&Pods>) -> i32 {
    let dynamic = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .is_some_and(|c| c.dynamic_stable_scale);
    if ro.status.abort
        && dynamic
        && let (Some(n), Some(s)) = (new, stable)
    {
        return abort_weight(ro, n, s);
    }
    current_set_weight(ro)
}

fn total_desired<'a>(sets: impl IntoIterator<Item = &'a Pods>) -> i32 {
    sets.into_iter().map(|p| p.desired).sum()
}

/// Pods of a ReplicaSet that count for scale-down: its desired count when that is below what
/// is available (the surplus is going anyway) or when availability is ignored.
fn counted_for_scale_down(rs: Option<&Pods>, ignore_availability: bool) -> i32 {
    match rs {
        None => 0,
        Some(rs) if rs.desired < rs.available || ignore_availability => rs.desired,
        Some(rs) => rs.available,
    }
}

/// Moves `drain` towards `desired` by at most `budget` pods (never below `desired`).
fn drain_towards(rs: Option<&Pods>, desired: i32, budget: i32, current: i32) -> i32 {
    match rs {
        Some(rs) if rs.desired > desired => desired.max(rs.desired - budget),
        _ => current,
    }
}

/// Keeps the pair within `ceiling` total pods, giving back to `keep` what the `floor` of
/// available pods needs.
fn within_limits(
    drain: Option<&Pods>,
    keep: Option<&Pods>,
    mut drain_count: i32,
    mut keep_count: i32,
    ceiling: i32,
    floor: i32,
) -> (i32, i32) {
    let mut available = drain.map_or(0, |d| d.available.min(drain_count));
    let Some(keep) = keep else {
        return (drain_count, keep_count);
    };
    let over = (keep_count + drain_count - ceiling).max(0);
    keep_count -= over;
    available += keep.available.min(keep_count);
    let lost = (keep.available - keep_count).max(0);
    let short = (floor - available).max(0);
    keep_count += lost.min(short);
    let over = (keep_count + drain_count - ceiling).max(0);
    drain_count -= over;
    (drain_count, keep_count)
}

/// One reconcile of a basic canary (no traffic routing): the (canary, stable) desired replicas
/// the controller sets next, given the new, stable and older ReplicaSets.
pub fn basic_canary_step(
    ro: &Rollout,
    new: Option<&Pods>,
    stable: Option<&Pods>,
    older: &[Pods],
) -> (i32, i32) {
    let replicas = ro.desired_replicas();
    let (_, weight) = desired_replicas_or_weight(ro, new, stable);
    let surge = max_surge(ro);
    let (mut want_new, mut want_stable) = weighted_split(replicas, weight, max_weight(ro), surge);
    let mut new_count = new.map_or(0, |n| n.desired);
    let distinct_stable = match (new, stable) {
        (_, None) => None,
        (Some(n), Some(s)) if n.name == s.name => None,
        (_, Some(s)) => Some(s),
    };
    let mut stable_count = 0;
    match distinct_stable {
        Some(s) => stable_count = s.desired,
        None => {
            // No separate stable: the new ReplicaSet goes straight to every replica.
            want_new = replicas;
            want_stable = 0;
        }
    }
    let ceiling = replicas + surge;
    let current = total_desired(older.iter().chain(new).chain(distinct_stable));
    let mut headroom = ceiling - current;
    if let Some(s) = distinct_stable
        && s.desired < want_stable
        && headroom > 0
    {
        if s.desired + headroom < want_stable {
            stable_count = s.desired + headroom;
            headroom = 0;
        } else {
            stable_count = want_stable;
            headroom -= want_stable - s.desired;
        }
    }
    if let Some(n) = new
        && n.desired < want_new
        && headroom > 0
    {
        new_count = want_new.min(n.desired + headroom);
    }
    if total_desired(older) > 0 {
        // Older ReplicaSets are scaled down first.
        return (new_count, stable_count);
    }
    let floor = replicas - max_unavailable(ro);
    let growing = new.is_none_or(|n| want_new >= n.desired);
    let countable = counted_for_scale_down(new, !growing) + counted_for_scale_down(stable, growing);
    if countable <= floor {
        return (new_count, stable_count);
    }
    let budget = countable - floor;
    if !growing {
        new_count = drain_towards(new, want_new, budget, new_count);
        (new_count, stable_count) =
            within_limits(new, stable, new_count, stable_count, ceiling, floor);
    } else if distinct_stable.is_some() {
        stable_count = drain_towards(stable, want_stable, budget, stable_count);
        (stable_count, new_count) =
            within_limits(stable, new, stable_count, new_count, ceiling, floor);
    }
    (new_count, stable_count)
}

/// `minPodsPerReplicaSet` (traffic routing only, capped at `replicas`) as a floor for a non-zero
/// count.
fn with_min_pods(ro: &Rollout, count: i32) -> i32 {
    let Some(c) = &ro.spec.strategy.canary else {
        return count;
    };
    match (c.min_pods_per_replica_set, &c.traffic_routing) {
        (Some(min), Some(_)) if count != 0 => count.max(min.min(ro.desired_replicas())),
        _ => count,
    }
}

/// The (canary, stable) replicas of a traffic-routed canary, given the weights the router
/// reports now (`status.canary.weights`).
pub fn traffic_routed_counts(
    ro: &Rollout,
    new: Option<&Pods>,
    stable: Option<&Pods>,
    weights: Option<(i32, i32)>,
) -> (i32, i32) {
    let replicas = ro.desired_replicas();
    let max = max_weight(ro);
    let (fixed, weight) = desired_replicas_or_weight(ro, new, stable);
    let mut canary = match fixed {
        Some(r) => r,
        None => with_min_pods(ro, pods_for_weight(replicas, weight, max)),
    };
    let dynamic = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .is_some_and(|c| c.dynamic_stable_scale);
    if !dynamic {
        return (canary, replicas);
    }
    let mut stable_count = pods_for_weight(replicas, max - weight, max);
    if let Some((canary_weight, stable_weight)) = weights {
        stable_count = stable_count.max(pods_for_weight(replicas, stable_weight, max));
        if ro.status.abort {
            canary = canary.max(pods_for_weight(replicas, canary_weight, max));
        }
    }
    (with_min_pods(ro, canary), with_min_pods(ro, stable_count))
}

/// Where a basic canary settles once every pod it asks for is available and no older
/// ReplicaSet runs: the reconcile step repeated until it stops changing (bounded).
pub fn basic_canary_settled(ro: &Rollout, new: &Pods, stable: Option<&Pods>) -> (i32, i32) {
    let mut new = new.clone();
    let mut stable = stable.cloned();
    for _ in 0..64 {
        let (n, s) = basic_canary_step(ro, Some(&new), stable.as_ref(), &[]);
        let same = n == new.desired && stable.as_ref().is_none_or(|st| st.desired == s);
        new.desired = n;
        new.available = n;
        if let Some(st) = &mut stable {
            st.desired = s;
            st.available = s;
        }
        if same {
            break;
        }
    }
    (new.desired, stable.map_or(0, |s| s.desired))
}

#[cfg(test)]
#[path = "canary_replicas_tests/mod.rs"]
mod tests;
