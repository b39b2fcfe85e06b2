//! The store's unit tests: server fields, history, watches' expiry, references.

use super::*;
use crate::sim::resource::by_kind;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    "2026-05-04T17:00:00Z".parse().unwrap()
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "llm"}, "spec": {"x": 1}})
}

#[test]
fn rv_and_server_fields() {
    let pods = by_kind("v1", "Pod").unwrap();
    let mut store = Store::new(10);
    let c = store.apply(pods, pod("a"), t0()).unwrap();
    assert_eq!(c.rv, 1);
    assert_eq!(c.change, ChangeType::Added);
    assert_eq!(c.object["metadata"]["resourceVersion"], "1");
    assert_eq!(
        c.object["metadata"]["creationTimestamp"],
        "2026-05-04T17:00:00Z"
    );
    assert_eq!(c.object["metadata"]["generation"], 1);
    let uid = c.object["metadata"]["uid"].clone();
    let key = (pods, "llm".to_string(), "a".to_string());
    // A status-only patch keeps the generation; a spec patch bumps it.
    let c = store
        .merge_patch(&key, &json!({"status": {"phase": "Running"}}), t0())
        .unwrap();
    assert_eq!(
        (c.rv, c.object["metadata"]["generation"].clone()),
        (2, json!(1))
    );
    let c = store
        .merge_patch(&key, &json!({"spec": {"x": 2}}), t0())
        .unwrap();
    assert_eq!(c.object["metadata"]["generation"], 2);
    assert_eq!(c.object["metadata"]["uid"], uid);
    assert_eq!(c.change, ChangeType::Modified);
    let c = store.delete(&key).unwrap();
    assert_eq!((c.rv, c.change), (4, ChangeType::Deleted));
    assert_eq!(store.resource_version(), 4);
    assert!(store.list(pods, None).is_empty());
    assert!(matches!(
        store.delete(&key),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn history_is_bounded_and_old_rv_expires() {
    let pods = by_kind("v1", "Pod").unwrap();
    let mut store = Store::new(3);
    for i in 0..5 {
        store.apply(pods, pod(&format!("p{i}")), t0()).unwrap();
    }
    // rv 1..=5; history keeps 3..=5, so a watch from rv 2 still has everything newer.
    let since: Vec<u64> = store
        .changes_since(2)
        .unwrap()
        .iter()
        .map(|c| c.rv)
        .collect();
    assert_eq!(since, [3, 4, 5]);
    assert_eq!(
        store.changes_since(1).unwrap_err(),
        Expired {
            requested: 1,
            oldest: 2
        }
    );
    assert!(store.changes_since(5).unwrap().is_empty());
    assert!(
        store.changes_since(6).is_err(),
        "a future version is expired"
    );
    store.compact();
    assert!(store.changes_since(4).is_err());
    assert!(store.changes_since(5).unwrap().is_empty());
}

#[test]
fn list_filters_by_namespace() {
    let pods = by_kind("v1", "Pod").unwrap();
    let mut store = Store::new(10);
    store.apply(pods, pod("a"), t0()).unwrap();
    let mut other = pod("b");
    other["metadata"]["namespace"] = json!("other");
    store.apply(pods, other, t0()).unwrap();
    assert_eq!(store.list(pods, Some("llm")).len(), 1);
    assert_eq!(store.list(pods, Some("ll")).len(), 0);
    assert_eq!(store.list(pods, None).len(), 2);
}

#[test]
fn owner_references_get_their_owners_uid() {
    let pods = by_kind("v1", "Pod").unwrap();
    let rs = by_kind("apps/v1", "ReplicaSet").unwrap();
    let mut store = Store::new(10);
    // The pod comes first: its owner does not exist yet.
    let mut p = pod("a-1");
    p["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "controller": true}]);
    store.apply(pods, p, t0()).unwrap();
    let owner = store
        .apply(
            rs,
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "a", "namespace": "llm"}}),
            t0(),
        )
        .unwrap();
    let key = (pods, "llm".to_string(), "a-1".to_string());
    assert!(store.get(&key).unwrap()["metadata"]["ownerReferences"][0]["uid"].is_null());
    store.link_references();
    let linked = store.get(&key).unwrap();
    assert_eq!(
        linked["metadata"]["ownerReferences"][0]["uid"],
        owner.object["metadata"]["uid"]
    );
    assert_eq!(
        linked["metadata"]["resourceVersion"], "1",
        "linking is not a change"
    );
    let history = store.changes_since(0).unwrap();
    assert!(Arc::ptr_eq(&history[0].object, &linked));
    // A later object finds its owner at once; an explicit uid is kept.
    let mut q = pod("a-2");
    q["metadata"]["ownerReferences"] = json!([
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "given"}
    ]);
    let c = store.apply(pods, q, t0()).unwrap();
    assert_eq!(
        c.object["metadata"]["ownerReferences"][0]["uid"],
        owner.object["metadata"]["uid"]
    );
    assert_eq!(c.object["metadata"]["ownerReferences"][1]["uid"], "given");
    // An Event written as an object gets its involvedObject's uid too.
    let events = by_kind("v1", "Event").unwrap();
    let e = store
        .apply(
            events,
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "llm"},
                   "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "a-2", "namespace": "llm"}}),
            t0(),
        )
        .unwrap();
    assert_eq!(
        e.object["involvedObject"]["uid"],
        c.object["metadata"]["uid"]
    );
}

#[test]
fn update_checks_the_resource_version() {
    let pods = by_kind("v1", "Pod").unwrap();
    let mut store = Store::new(10);
    store.apply(pods, pod("a"), t0()).unwrap();
    let key = (pods, "llm".to_string(), "a".to_string());
    let mut stale = pod("a");
    stale["metadata"]["resourceVersion"] = json!("7");
    assert!(matches!(
        store.update(&key, stale, t0()),
        Err(StoreError::Conflict { .. })
    ));
    let mut fresh = pod("a");
    fresh["metadata"]["resourceVersion"] = json!("1");
    assert_eq!(store.update(&key, fresh, t0()).unwrap().rv, 2);
    assert_eq!(store.update(&key, pod("a"), t0()).unwrap().rv, 3);
    // Writing what is stored is no change: no new version, nothing in the history.
    assert!(
        store
            .update_if_changed(&key, pod("a"), t0())
            .unwrap()
            .is_err()
    );
    assert_eq!(store.resource_version(), 3);
    let mut changed = pod("a");
    changed["spec"]["x"] = json!(2);
    assert_eq!(
        store
            .update_if_changed(&key, changed, t0())
            .unwrap()
            .unwrap()
            .rv,
        4
    );
    assert!(matches!(
        store.create(pods, pod("a"), t0()),
        Err(StoreError::AlreadyExists { .. })
    ));
}

#[test]
fn merge_patch_semantics() {
    let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
    merge(&mut v, &json!({"a": {"b": null, "e": 3}, "d": [3]}));
    assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [3]}));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the history limit and the number of changes, a watch from any
        /// resourceVersion either gets exactly the changes after it, in order, or 410.
        #[test]
        fn changes_since_is_complete_or_expired(limit in 1usize..8, n in 0u64..20, from in 0u64..25) {
            let pods = by_kind("v1", "Pod").unwrap();
            let mut store = Store::new(limit);
            for i in 0..n {
                store.apply(pods, pod(&format!("p{}", i % 3)), t0()).unwrap();
            }
            let expired = from > n || n - from > limit as u64;
            match store.changes_since(from) {
                Ok(changes) => {
                    prop_assert!(!expired);
                    let rvs: Vec<u64> = changes.iter().map(|c| c.rv).collect();
                    let expected: Vec<u64> = (from + 1..=n).collect();
                    prop_assert_eq!(rvs, expected);
                }
                Err(e) => prop_assert!(expired, "{e}"),
            }
        }
    }
}

/// The owner index follows every write: create, a replace that changes the controller, a
/// delete, and a reference linked after its owner arrived.
#[test]
fn list_owned_follows_writes() {
    let pods = by_kind("v1", "Pod").unwrap();
    let mut store = Store::new(10);
    let owned_pod = |name: &str, ns: &str, owners: Value| {
        let mut p = pod(name);
        p["metadata"]["namespace"] = json!(ns);
        p["metadata"]["ownerReferences"] = owners;
        p
    };
    let ctl =
        |uid: &str| json!([{"kind": "ReplicaSet", "name": "x", "uid": uid, "controller": true}]);
    let names = |store: &Store, ns: Option<&str>, uid: &str| -> Vec<String> {
        store
            .list_owned(pods, ns, uid)
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    store
        .apply(pods, owned_pod("b", "llm", ctl("u1")), t0())
        .unwrap();
    store
        .apply(pods, owned_pod("a", "llm", ctl("u1")), t0())
        .unwrap();
    store
        .apply(pods, owned_pod("c", "web", ctl("u1")), t0())
        .unwrap();
    // Not a controller: not owned.
    let plain = json!([{"kind": "ReplicaSet", "name": "x", "uid": "u1"}]);
    store
        .apply(pods, owned_pod("d", "llm", plain), t0())
        .unwrap();
    assert_eq!(names(&store, None, "u1"), ["a", "b", "c"], "store order");
    assert_eq!(names(&store, Some("llm"), "u1"), ["a", "b"]);
    // A replace moves "b" to another controller; a delete forgets "a".
    store
        .apply(pods, owned_pod("b", "llm", ctl("u2")), t0())
        .unwrap();
    store
        .delete(&(pods, "llm".to_string(), "a".to_string()))
        .unwrap();
    assert!(names(&store, Some("llm"), "u1").is_empty());
    assert_eq!(names(&store, None, "u2"), ["b"]);
    // The latest object is what a lookup returns.
    let b = store.list_owned(pods, None, "u2");
    assert!(Arc::ptr_eq(
        &b[0],
        &store
            .get(&(pods, "llm".to_string(), "b".to_string()))
            .unwrap()
    ));
    // A reference resolved by link_references is indexed under its owner's uid.
    let rs = by_kind("apps/v1", "ReplicaSet").unwrap();
    let mut late = owned_pod("e", "llm", json!([]));
    late["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "late", "controller": true}]);
    store.apply(pods, late, t0()).unwrap();
    let owner = store
        .apply(rs, json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "late", "namespace": "llm"}}), t0())
        .unwrap();
    store.link_references();
    let uid = owner.object["metadata"]["uid"].as_str().unwrap();
    assert_eq!(names(&store, Some("llm"), uid), ["e"]);
}
