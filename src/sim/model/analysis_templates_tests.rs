//! Cases from Argo's utils/analysis/helpers_test.go (TestFlattenTemplates,
//! TestNewAnalysisRunFromTemplates, TestMergeArgs, TestAnalysisTemplateFiltering) and
//! factory_test.go (TestBuildArgumentsForRolloutAnalysisRun, the label tests).

use serde_json::{Value, json};

use super::*;

fn metric(name: &str, condition: &str) -> Value {
    json!({"name": name, "successCondition": condition})
}

fn template(name: &str, spec: Value) -> Value {
    json!({"kind": "AnalysisTemplate", "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
}

fn merge(templates: &[Value], cluster: &[Value]) -> Result<Value, TemplateError> {
    run_from_templates(templates, cluster, &[], &[], &[])
}

#[test]
fn an_empty_list_merges_to_no_metrics() {
    assert_eq!(merge(&[], &[]).unwrap(), json!({"metrics": []}));
}

#[test]
fn a_single_template_is_copied_unchanged() {
    let spec = json!({"metrics": [metric("foo", "{{args.test}}")],
                      "args": [{"name": "test", "value": "true"}]});
    assert_eq!(merge(&[template("t", spec.clone())], &[]).unwrap(), spec);
}

#[test]
fn metrics_and_rules_merge_in_order_namespaced_then_cluster() {
    let foo = template(
        "a",
        json!({"metrics": [metric("foo", "true")], "dryRun": [{"metricName": "foo"}],
               "measurementRetention": [{"metricName": "foo", "limit": 3}]}),
    );
    let bar = template(
        "b",
        json!({"metrics": [metric("bar", "true")], "dryRun": [{"metricName": "bar"}],
               "measurementRetention": [{"metricName": "bar"}]}),
    );
    let spec = merge(&[foo], &[bar]).unwrap();
    assert_eq!(
        spec["metrics"],
        json!([metric("foo", "true"), metric("bar", "true")])
    );
    assert_eq!(
        spec["dryRun"],
        json!([{"metricName": "foo"}, {"metricName": "bar"}])
    );
    assert_eq!(
        spec["measurementRetention"],
        json!([{"metricName": "foo", "limit": 3}, {"metricName": "bar"}])
    );
    assert!(spec.get("args").is_none());
}

#[test]
fn a_metric_name_in_two_templates_is_refused() {
    let a = template("a", json!({"metrics": [metric("foo", "true")]}));
    let b = template("b", json!({"metrics": [metric("foo", "true")]}));
    let err = merge(&[a], &[b]).unwrap_err();
    assert_eq!(err.to_string(), "two metrics have the same name 'foo'");
}

#[test]
fn duplicate_dry_run_and_retention_rules_are_refused() {
    let a = template(
        "a",
        json!({"metrics": [metric("foo", "true")], "dryRun": [{"metricName": "foo"}]}),
    );
    let b = template(
        "b",
        json!({"metrics": [metric("bar", "true")], "dryRun": [{"metricName": "foo"}]}),
    );
    let err = merge(&[a], &[b]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "two Dry-Run metric rules have the same name 'foo'"
    );

    let a = template(
        "a",
        json!({"metrics": [metric("foo", "true")],
                                 "measurementRetention": [{"metricName": "foo"}]}),
    );
    let b = template(
        "b",
        json!({"metrics": [metric("bar", "true")],
                                 "measurementRetention": [{"metricName": "foo"}]}),
    );
    let err = merge(&[a], &[b]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "two Measurement Retention metric rules have the same name 'foo'"
    );

    // The caller's rules are checked together with the templates'.
    let a = template(
        "a",
        json!({"metrics": [metric("foo", "true")], "dryRun": [{"metricName": "foo"}]}),
    );
    let err = run_from_templates(&[a], &[], &[], &[json!({"metricName": "foo"})], &[]).unwrap_err();
    assert_eq!(err, TemplateError::DuplicateDryRun("foo".into()));
}

#[test]
fn args_merge_across_templates() {
    let a = template(
        "a",
        json!({"metrics": [metric("foo", "true")],
                                 "args": [{"name": "foo", "value": "true"}]}),
    );
    let b = template(
        "b",
        json!({"metrics": [metric("bar", "true")],
                                 "args": [{"name": "bar", "value": "true"}]}),
    );
    let spec = merge(&[a, b], &[]).unwrap();
    assert_eq!(
        spec["args"],
        json!([{"name": "foo", "value": "true"}, {"name": "bar", "value": "true"}])
    );

    // Same name, one without a value: the value is kept.
    let a = template(
        "a",
        json!({"metrics": [metric("foo", "true")], "args": [{"name": "foo", "value": "true"}]}),
    );
    let b = template(
        "b",
        json!({"metrics": [metric("bar", "true")], "args": [{"name": "foo"}]}),
    );
    let spec = merge(&[a, b], &[]).unwrap();
    assert_eq!(spec["args"], json!([{"name": "foo", "value": "true"}]));
    let a = template(
        "a",
        json!({"metrics": [metric("foo", "true")], "args": [{"name": "foo"}]}),
    );
    let b = template(
        "b",
        json!({"metrics": [metric("bar", "true")], "args": [{"name": "foo", "value": "true"}]}),
    );
    let spec = merge(&[a, b], &[]).unwrap();
    assert_eq!(spec["args"], json!([{"name": "foo", "value": "true"}]));

    // Same name, two values.
    let a = template(
        "a",
        json!({"metrics": [metric("foo", "true")], "args": [{"name": "foo", "value": "true"}]}),
    );
    let b = template(
        "b",
        json!({"metrics": [metric("bar", "true")], "args": [{"name": "foo", "value": "false"}]}),
    );
    let err = merge(&[a, b], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Argument `foo` specified multiple times with different values: 'true', 'false'"
    );
}

#[test]
fn caller_args_override_defaults_and_extra_ones_are_dropped() {
    let t = template(
        "t",
        json!({"metrics": [metric("success-rate", "true")],
               "args": [{"name": "my-arg"}, {"name": "my-secret"}, {"name": "default", "value": "bar"}]}),
    );
    let args = [
        json!({"name": "my-arg", "value": "my-val"}),
        json!({"name": "my-secret", "valueFrom": {"secretKeyRef": {"name": "name", "key": "key"}}}),
        json!({"name": "extra-arg", "value": "extra-value"}),
    ];
    let spec = run_from_templates(std::slice::from_ref(&t), &[], &args, &[], &[]).unwrap();
    assert_eq!(
        spec["args"],
        json!([{"name": "my-arg", "value": "my-val"},
               {"name": "my-secret", "valueFrom": {"secretKeyRef": {"name": "name", "key": "key"}}},
               {"name": "default", "value": "bar"}])
    );

    let overwrite = [
        json!({"name": "default", "value": "overwrite"}),
        args[0].clone(),
        args[1].clone(),
    ];
    let spec = run_from_templates(std::slice::from_ref(&t), &[], &overwrite, &[], &[]).unwrap();
    assert_eq!(
        spec["args"][2],
        json!({"name": "default", "value": "overwrite"})
    );
}

#[test]
fn an_arg_left_without_a_value_is_refused() {
    let t = template(
        "t",
        json!({"metrics": [metric("m", "true")], "args": [{"name": "foo"}]}),
    );
    let err = run_from_templates(&[t], &[], &[json!({"name": "foo"})], &[], &[]).unwrap_err();
    assert_eq!(err.to_string(), "args.foo was not resolved");
}

#[test]
fn an_arg_value_that_is_not_a_string_is_refused_with_the_fix() {
    let t = template(
        "t",
        json!({"metrics": [metric("m", "true")], "args": [{"name": "n", "value": 5}]}),
    );
    let err = merge(&[t], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "args[n].value: must be a string (quote it: \"5\")"
    );
}

fn rollout() -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "test", "namespace": "default", "uid": "uid-1",
                     "annotations": {"rollout.argoproj.io/revision": "1"},
                     "labels": {"app": "app", "env": "test"}},
        "spec": {"selector": {"matchLabels": {"app": "app", "env": "test"}}},
        "status": {"pauseConditions": [{"reason": "test-reason"}]},
    })
}

fn lookup_none(_: TemplateScope, _: &str) -> Option<Value> {
    None
}

#[test]
fn rollout_args_resolve_literals_hashes_and_field_refs() {
    let rollout = rollout();
    let annotation = "metadata.annotations['rollout.argoproj.io/revision']";
    let field = |path: &str| json!({"name": path, "valueFrom": {"fieldRef": {"fieldPath": path}}});
    let analysis = json!({"args": [
        {"name": "hard-coded-value-key", "value": "hard-coded-value"},
        {"name": "stable-key", "valueFrom": {"podTemplateHashValue": "Stable"}},
        {"name": "new-key", "valueFrom": {"podTemplateHashValue": "Latest"}},
        field("metadata.labels['app']"),
        field("metadata.labels['env']"),
        field(annotation),
        field("status.pauseConditions[0].reason"),
        field("metadata.name"),
    ]});
    let input = RolloutRun {
        rollout: &rollout,
        analysis: &analysis,
        kind: RunKind::Background,
        latest_hash: "123456",
        stable_hash: "abcdef",
    };
    let values: Vec<(String, String)> = rollout_args(&input)
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().into(),
                a["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = [
        ("hard-coded-value-key", "hard-coded-value"),
        ("stable-key", "abcdef"),
        ("new-key", "123456"),
        ("metadata.labels['app']", "app"),
        ("metadata.labels['env']", "test"),
        (annotation, "1"),
        ("status.pauseConditions[0].reason", "test-reason"),
        ("metadata.name", "test"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(values, expect);
}

#[test]
fn field_refs_the_rollout_lacks_are_errors() {
    // Cases from factory_test.go Test_extractValueFromRollout.
    let rollout = rollout();
    let cases = [
        ("status.pauseConditions[1].reason", "index 1 out of range"),
        ("status.pauseConditions[x].reason", "invalid index 'x'"),
        ("status.nothing", "invalid path status.nothing in rollout"),
        (
            "status.pauseConditions",
            "path status.pauseConditions in rollout must terminate in a primitive value",
        ),
        (
            "metadata.generation",
            "unsupported fieldPath: metadata.generation",
        ),
    ];
    for (path, message) in cases {
        let analysis =
            json!({"args": [{"name": "a", "valueFrom": {"fieldRef": {"fieldPath": path}}}]});
        let input = RolloutRun {
            rollout: &rollout,
            analysis: &analysis,
            kind: RunKind::Background,
            latest_hash: "h",
            stable_hash: "s",
        };
        assert_eq!(
            rollout_args(&input).unwrap_err().to_string(),
            message,
            "{path}"
        );
    }
}

fn run_for(
    kind: RunKind,
    analysis: &Value,
    lookup: &TemplateLookup,
) -> Result<Value, TemplateError> {
    let rollout = rollout();
    rollout_run(
        &RolloutRun {
            rollout: &rollout,
            analysis,
            kind,
            latest_hash: "123456",
            stable_hash: "abcdef",
        },
        lookup,
    )
}

fn store_lookup(scope: TemplateScope, name: &str) -> Option<Value> {
    match (scope, name) {
        (TemplateScope::Namespaced, "rate") => Some(template(
            "rate",
            json!({"metrics": [metric("rate", "result[0] < 0.05")], "args": [{"name": "hash"}],
                   "templates": [{"templateName": "shared", "clusterScope": true}]}),
        )),
        (TemplateScope::Cluster, "shared") => Some(json!({
            "kind": "ClusterAnalysisTemplate", "metadata": {"name": "shared"},
            "spec": {"metrics": [metric("latency", "result[0] < 0.5")]}})),
        (TemplateScope::Namespaced, "self") => Some(template(
            "self",
            json!({"metrics": [], "templates": [{"templateName": "self"}]}),
        )),
        _ => None,
    }
}

#[test]
fn runs_are_named_labelled_and_owned_as_argo_names_them() {
    let analysis = json!({
        "templates": [{"templateName": "rate"}],
        "args": [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
        "analysisRunMetadata": {"labels": {"team": "shop"}, "annotations": {"note": "x"}},
    });
    let cases = [
        (
            RunKind::Background,
            "test-123456-1",
            vec![("rollout-type", "Background")],
        ),
        (
            RunKind::Step(2),
            "test-123456-1-2",
            vec![("rollout-type", "Step"), ("step-index", "2")],
        ),
        (
            RunKind::PrePromotion,
            "test-123456-1-pre",
            vec![("rollout-type", "PrePromotion")],
        ),
        (
            RunKind::PostPromotion,
            "test-123456-1-post",
            vec![("rollout-type", "PostPromotion")],
        ),
    ];
    for (kind, name, extra) in cases {
        let run = run_for(kind, &analysis, &store_lookup).unwrap();
        assert_eq!(run["metadata"]["name"], name);
        assert_eq!(run["metadata"]["namespace"], "default");
        let mut labels = json!({"rollouts-pod-template-hash": "123456", "team": "shop",
                                "app": "app", "env": "test"});
        for (k, v) in extra {
            labels[k] = v.into();
        }
        assert_eq!(run["metadata"]["labels"], labels, "{kind:?}");
        assert_eq!(
            run["metadata"]["annotations"],
            json!({"rollout.argoproj.io/revision": "1", "note": "x"})
        );
        assert_eq!(
            run["metadata"]["ownerReferences"],
            json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "test",
                    "uid": "uid-1", "controller": true, "blockOwnerDeletion": true}])
        );
        // The nested cluster template's metric follows the namespaced one's.
        assert_eq!(
            run["spec"]["metrics"],
            json!([
                metric("rate", "result[0] < 0.05"),
                metric("latency", "result[0] < 0.5")
            ])
        );
        assert_eq!(
            run["spec"]["args"],
            json!([{"name": "hash", "value": "123456"}])
        );
    }
}

#[test]
fn a_missing_template_is_the_apis_not_found() {
    let analysis = json!({"templates": [{"templateName": "gone"}]});
    let err = run_for(RunKind::Background, &analysis, &lookup_none).unwrap_err();
    assert_eq!(
        err.to_string(),
        "analysistemplate.argoproj.io \"gone\" not found"
    );
    let analysis = json!({"templates": [{"templateName": "gone", "clusterScope": true}]});
    let err = run_for(RunKind::Background, &analysis, &lookup_none).unwrap_err();
    assert_eq!(
        err.to_string(),
        "clusteranalysistemplate.argoproj.io \"gone\" not found"
    );
}

#[test]
fn a_template_referencing_itself_is_refused_not_followed_forever() {
    let analysis = json!({"templates": [{"templateName": "self"}]});
    let err = run_for(RunKind::Background, &analysis, &store_lookup).unwrap_err();
    assert!(matches!(err, TemplateError::TooDeep(_)), "{err}");
}

#[test]
fn templates_referenced_twice_count_once() {
    // FilterUniqueTemplates: the same template through two references is merged once, so
    // its metric is not a duplicate.
    let analysis = json!({
        "templates": [{"templateName": "rate"}, {"templateName": "rate"},
                      {"templateName": "shared", "clusterScope": true}],
        "args": [{"name": "hash", "value": "h"}],
    });
    let run = run_for(RunKind::Background, &analysis, &store_lookup).unwrap();
    assert_eq!(run["spec"]["metrics"].as_array().unwrap().len(), 2);
}

#[test]
fn a_missing_pod_hash_is_refused() {
    let rollout = rollout();
    let analysis = json!({"templates": []});
    let input = RolloutRun {
        rollout: &rollout,
        analysis: &analysis,
        kind: RunKind::Background,
        latest_hash: "",
        stable_hash: "",
    };
    assert_eq!(
        rollout_run(&input, &lookup_none).unwrap_err(),
        TemplateError::NoPodHash
    );
}

#[test]
fn templates_are_checked_at_load_naming_template_and_metric() {
    let good = template(
        "rate",
        json!({"metrics": [{"name": "rate", "interval": "{{args.interval}}", "count": "{{args.count}}",
                            "successCondition": "result[0] < {{args.max}}",
                            "provider": {"prometheus": {"query": "q"}}}]}),
    );
    assert_eq!(check_template(&good), Ok(()));

    let bad_syntax = template(
        "rate",
        json!({"metrics": [{"name": "rate", "successCondition": "result[0] <",
                            "provider": {"prometheus": {"query": "q"}}}]}),
    );
    let err = check_template(&bad_syntax).unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.name.as_str(), err.metric.as_str()),
        ("AnalysisTemplate", "shop/rate", "rate")
    );
    assert!(err.to_string().starts_with("AnalysisTemplate shop/rate: metric 'rate': successCondition \"result[0] <\" is not a condition"), "{err}");

    let unknown = json!({"kind": "ClusterAnalysisTemplate", "metadata": {"name": "shared"},
        "spec": {"metrics": [{"name": "p99", "failureCondition": "quantile(result, 0.99) > 1",
                              "provider": {"prometheus": {"query": "q"}}}]}});
    let err = check_template(&unknown).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("ClusterAnalysisTemplate shared: metric 'p99': failureCondition"),
        "{err}"
    );

    let no_provider = template(
        "rate",
        json!({"metrics": [{"name": "rate", "successCondition": "true"}]}),
    );
    assert_eq!(
        check_template(&no_provider).unwrap_err().message,
        "no provider specified"
    );
}
