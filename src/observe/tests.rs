use std::time::Duration;

use chrono::{TimeDelta, Utc};
use kube::api::DynamicObject;
use kube::runtime::watcher;
use serde_json::json;
use tokio::time::Instant;

use super::*;

fn obj(name: &str, v: i64) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}, "data": {"v": v}
    }))
    .unwrap()
}

fn project(o: DynamicObject) -> Option<(String, i64)> {
    Some((o.metadata.name.clone()?, o.data["data"]["v"].as_i64()?))
}

#[test]
fn a_resync_reports_only_real_differences() {
    let mut m = Mirror::default();
    m.apply(watcher::Event::Init, project);
    m.apply(watcher::Event::InitApply(obj("a", 1)), project);
    m.apply(watcher::Event::InitApply(obj("b", 1)), project);
    assert_eq!(m.apply(watcher::Event::InitDone, project).len(), 2);
    assert!(
        m.apply(watcher::Event::Apply(obj("a", 1)), project)
            .is_empty()
    );
    // Relist after a 410: a unchanged, b changed, c new, and nothing about a.
    m.apply(watcher::Event::Init, project);
    m.apply(watcher::Event::InitApply(obj("a", 1)), project);
    m.apply(watcher::Event::InitApply(obj("b", 2)), project);
    m.apply(watcher::Event::InitApply(obj("c", 1)), project);
    let diffs = m.apply(watcher::Event::InitDone, project);
    let keys: Vec<_> = diffs.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["b", "c"]);
    assert_eq!(diffs[0].before, Some(1));
    // A relist that lost c reports its removal once.
    m.apply(watcher::Event::Init, project);
    m.apply(watcher::Event::InitApply(obj("a", 1)), project);
    m.apply(watcher::Event::InitApply(obj("b", 2)), project);
    let diffs = m.apply(watcher::Event::InitDone, project);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].after, None);
}

/// (group, resource, verb) granted by a manifest's Roles and ClusterRoles.
fn grants(yaml: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for v in serde_saphyr::from_multiple::<serde_json::Value>(yaml).unwrap() {
        let kind = v["kind"].as_str().unwrap_or_default();
        if kind != "Role" && kind != "ClusterRole" {
            continue;
        }
        for rule in v["rules"].as_array().unwrap() {
            let list = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect()
            };
            for g in list("apiGroups") {
                for r in list("resources") {
                    for verb in list("verbs") {
                        out.push((g.clone(), r.clone(), verb));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn rbac_manifests_grant_what_the_observers_watch_and_only_reads() {
    let cases = [
        (
            include_str!("../../agents/rbac/pipeline.yaml"),
            pipeline::Watched::ALL.map(|w| w.kind()).to_vec(),
        ),
        (
            include_str!("../../agents/rbac/data-plane.yaml"),
            data_plane::Watched::ALL.map(|w| w.kind()).to_vec(),
        ),
    ];
    for (yaml, kinds) in cases {
        let granted = grants(yaml);
        assert!(
            granted
                .iter()
                .all(|(_, _, v)| ["get", "list", "watch"].contains(&v.as_str())),
            "{granted:?}"
        );
        for k in &kinds {
            for verb in ["get", "list", "watch"] {
                assert!(
                    granted.contains(&(k.group.into(), k.plural.into(), verb.into())),
                    "{verb} {}.{} missing",
                    k.plural,
                    k.group
                );
            }
        }
        // Nothing beyond what is watched, plus reading the namespace.
        for (g, r, _) in &granted {
            let watched = kinds.iter().any(|k| k.group == g && k.plural == r);
            assert!(watched || (g.is_empty() && r == "namespaces"), "{g}/{r}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn lost_and_back_are_said_once_per_outage() {
    let mut h = ApiHealth::default();
    let t = Utc::now();
    assert!(h.back(Instant::now(), t).is_none());
    let lost = h.error("watching pods", "connection refused", Instant::now(), t);
    assert_eq!(lost.unwrap().kind, Kind::Alert);
    assert!(
        h.error("watching rollouts", "refused", Instant::now(), t)
            .is_none()
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    let back = h.back(Instant::now(), t + TimeDelta::seconds(3)).unwrap();
    assert_eq!(back.kind, Kind::Observation);
    assert!(back.body.contains("3s"), "{}", back.body);
    assert!(h.back(Instant::now(), t).is_none());
    // A watcher's retry failing right after is not a new outage...
    assert!(
        h.error("watching pods", "refused", Instant::now(), t)
            .is_none()
    );
    // ...but one after the grace is.
    tokio::time::advance(BACK_GRACE).await;
    assert!(
        h.error("watching pods", "refused", Instant::now(), t)
            .is_some()
    );
}

/// The relay's contract (DESIGN.md): `POST /api/channels/{ch}/entries`, bearer token,
/// `{"kind","body","refs"}`, 201 with the entry. Checked against a stand-in that records
/// what it got (the relay itself lives on its own branch).
#[tokio::test]
async fn the_remote_poster_speaks_the_relay_contract() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<(String, String, serde_json::Value)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/api/channels/{ch}/entries",
        post(
            move |axum::extract::Path(ch): axum::extract::Path<String>,
                  headers: HeaderMap,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let log = log.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    log.lock().unwrap().push((ch, auth.clone(), body));
                    if auth == "Bearer good" {
                        (StatusCode::CREATED, r#"{"id":"pipeline#7"}"#.to_string())
                    } else {
                        (StatusCode::UNAUTHORIZED, "bad token".to_string())
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let poster = Poster::remote(&format!("{url}/"), "2026-05-04--canary", "good");
    let id = poster.post(&Observation::alert("**x**")).await.unwrap();
    assert_eq!(id, "pipeline#7");
    let (ch, auth, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(ch, "2026-05-04--canary");
    assert_eq!(auth, "Bearer good");
    assert_eq!(body, json!({"kind": "alert", "body": "**x**", "refs": []}));

    let refused = Poster::remote(&url, "c", "bad")
        .post(&Observation::report("y"))
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("refused the entry (401): bad token; check --token"),
        "{refused}"
    );
    let unreachable = Poster::remote("http://127.0.0.1:9", "c", "t")
        .post(&Observation::report("y"))
        .await
        .unwrap_err();
    assert!(
        unreachable.to_string().contains("cannot reach the relay"),
        "{unreachable}"
    );
}
