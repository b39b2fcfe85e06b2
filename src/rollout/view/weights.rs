//! Strategy, step and weights (rollout_info.go): `Canary`/`BlueGreen`, the current step,
//! SetWeight and ActualWeight, and the tags (stable, canary, active, preview, ping, pong) of a
//! ReplicaSet by its pod-template hash. Must not read pods.

use super::model::{ObjectMeta, ReplicaSet, Rollout};

/// `Canary`, `BlueGreen` or "".
pub fn strategy(ro: &Rollout) -> &'static str {
    if ro.spec.strategy.canary.is_some() {
        "Canary"
    } else if ro.spec.strategy.blue_green.is_some() {
        "BlueGreen"
    } else {
        ""
    }
}

/// The index of the current canary step, when there is one.
pub fn current_step(ro: &Rollout) -> Option<usize> {
    let steps = &ro.spec.strategy.canary.as_ref()?.steps;
    let index = usize::try_from(ro.status.current_step_index.unwrap_or(0)).ok()?;
    (index < steps.len()).then_some(index)
}

/// 100, or `trafficRouting.maxTrafficWeight` when set.
pub fn max_weight(ro: &Rollout) -> i32 {
    ro.spec
        .strategy
        .canary
        .as_ref()
        .and_then(|c| c.traffic_routing.as_ref())
        .and_then(|t| t.max_traffic_weight)
        .unwrap_or(100)
}

/// `"<currentStepIndex>/<steps>"`, or "" without an index or steps.
pub fn step(ro: &Rollout) -> String {
    let steps = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .map_or(0, |c| c.steps.len());
    match ro.status.current_step_index {
        Some(index) if steps > 0 => format!("{index}/{steps}"),
        _ => String::new(),
    }
}

/// The desired canary weight: 0 when aborted, the last setWeight at or before the current step,
/// the maximum weight when past the last step.
pub fn set_weight(ro: &Rollout) -> i32 {
    if ro.status.abort {
        return 0;
    }
    let Some(index) = current_step(ro) else {
        return max_weight(ro);
    };
    let steps = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .map_or(&[][..], |c| &c.steps[..]);
    steps
        .get(..=index)
        .unwrap_or_default()
        .iter()
        .rev()
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// The weight the canary actually gets: from traffic-routing status, or from available
/// replicas without traffic routing.
pub fn actual_weight(ro: &Rollout, owned: &[&ReplicaSet]) -> i32 {
    if current_step(ro).is_none() {
        return max_weight(ro);
    }
    if ro.status.available_replicas <= 0 {
        return 0;
    }
    let routing = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .and_then(|c| c.traffic_routing.as_ref());
    if routing.is_none() {
        let mut weight = 0;
        for rs in owned {
            if tags(ro, &rs.metadata).canary {
                weight =
                    rs.status.available_replicas * max_weight(ro) / ro.status.available_replicas;
            }
        }
        weight
    } else {
        ro.status
            .canary
            .weights
            .as_ref()
            .and_then(|w| w.canary.as_ref())
            .map_or_else(|| set_weight(ro), |c| c.weight)
    }
}

/// What a ReplicaSet is to its rollout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaSetTags {
    pub stable: bool,
    pub canary: bool,
    pub active: bool,
    pub preview: bool,
    pub ping: bool,
    pub pong: bool,
}

/// Tags a ReplicaSet (by its pod-template hash) as the rollout's stable, canary, active,
/// preview, ping or pong set.
pub fn tags(ro: &Rollout, meta: &ObjectMeta) -> ReplicaSetTags {
    let hash = meta.pod_template_hash();
    let mut t = ReplicaSetTags::default();
    if hash.is_empty() {
        return t;
    }
    let st = &ro.status;
    if let Some(canary) = &ro.spec.strategy.canary {
        let ping_pong = canary.ping_pong.is_some();
        let stable_is_ping = st.canary.stable_ping_pong == "ping";
        if st.stable_rs == hash {
            t.stable = true;
            if ping_pong {
                t.ping = stable_is_ping;
                t.pong = !stable_is_ping;
            }
        } else if st.current_pod_hash == hash {
            t.canary = true;
            if ping_pong {
                t.ping = !stable_is_ping;
                t.pong = stable_is_ping;
            }
        }
    }
    if ro.spec.strategy.blue_green.is_some() {
        if st.stable_rs == hash {
            t.stable = true;
        }
        if st.blue_green.active_selector == hash {
            t.active = true;
        } else if st.blue_green.preview_selector == hash {
            t.preview = true;
        }
    }
    t
}

impl ReplicaSetTags {
    /// Image tags, in the plugin's order.
    pub(super) fn image_tags(self) -> Vec<String> {
        let mut out = Vec::new();
        for (on, name) in [
            (self.canary, "canary"),
            (self.stable, "stable"),
            (self.active, "active"),
            (self.preview, "preview"),
            (self.ping, "ping"),
            (self.pong, "pong"),
        ] {
            if on {
                out.push(name.to_string());
            }
        }
        out
    }

    /// INFO cells of a ReplicaSet row: stable, then canary/active/preview, then ping/pong.
    pub(super) fn info_cells(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.stable {
            out.push("stable");
        }
        if self.canary {
            out.push("canary");
        } else if self.active {
            out.push("active");
        } else if self.preview {
            out.push("preview");
        }
        if self.ping {
            out.push("ping");
        } else if self.pong {
            out.push("pong");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(yaml: &str) -> Rollout {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn set_weight_looks_back_to_the_last_set_weight() {
        let ro = rollout(
            "spec: {strategy: {canary: {steps: [{setWeight: 25}, {experiment: {}}]}}}\nstatus: {currentStepIndex: 1}\n",
        );
        assert_eq!(set_weight(&ro), 25);
        assert_eq!(step(&ro), "1/2");
        let ro = rollout(
            "spec: {strategy: {canary: {trafficRouting: {maxTrafficWeight: 1000}, steps: [{setWeight: 25}]}}}\nstatus: {currentStepIndex: 1}\n",
        );
        assert_eq!(set_weight(&ro), 1000);
    }
}
