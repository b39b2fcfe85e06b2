//! Metric checks with cases from Argo's utils/analysis/factory_test.go (TestValidateMetrics).

use serde_json::{Value, json};

use super::*;

fn metric(name: &str, extra: Value) -> Value {
    let mut m = json!({"name": name, "provider": {"prometheus": {"query": "up"}}});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    m
}

fn validate(metrics: Vec<Value>) -> Result<(), String> {
    let specs: Vec<MetricSpec> = metrics.iter().map(MetricSpec::from_json).collect();
    validate_metrics(&specs)
}

#[test]
fn metrics_are_validated_as_argo_validates_them() {
    // TestValidateMetrics.
    let cases = [
        (
            json!({"count": 1, "failureLimit": 2}),
            "metrics[0]: count (1) must be >= failureLimit + consecutiveSuccessLimit (2 + 0) if both >= 0",
        ),
        (
            json!({"count": 1, "inconclusiveLimit": 2}),
            "metrics[0]: count must be >= inconclusiveLimit",
        ),
        (
            json!({"count": 2, "interval": "60s-typo", "failureLimit": 2}),
            "metrics[0]: invalid interval string: time: unknown unit \"s-typo\" in duration \"60s-typo\"",
        ),
        (
            json!({"initialDelay": "60s-typo"}),
            "metrics[0]: invalid startDelay string: time: unknown unit \"s-typo\" in duration \"60s-typo\"",
        ),
        (
            json!({"count": 2}),
            "metrics[0]: interval must be specified when count > 1",
        ),
        (
            json!({"failureLimit": -2}),
            "metrics[0]: failureLimit must be >= 0, or -1 to be disabled",
        ),
        (
            json!({"inconclusiveLimit": -1}),
            "metrics[0]: inconclusiveLimit must be >= 0",
        ),
        (
            json!({"consecutiveErrorLimit": -1}),
            "metrics[0]: consecutiveErrorLimit must be >= 0",
        ),
        (
            json!({"consecutiveSuccessLimit": -1}),
            "metrics[0]: consecutiveSuccessLimit must be >= 0",
        ),
        (
            json!({"consecutiveSuccessLimit": 0, "failureLimit": -1}),
            "metrics[0]: failureLimit and consecutiveSuccessLimit cannot both be disabled",
        ),
        (json!({"provider": {}}), "metrics[0]: no provider specified"),
        (
            json!({"provider": {"prometheus": {}, "job": {}}}),
            "metrics[0]: multiple providers specified",
        ),
    ];
    for (extra, message) in cases {
        assert_eq!(
            validate(vec![metric("m", extra.clone())]),
            Err(message.to_string()),
            "{extra}"
        );
    }
    assert_eq!(validate(vec![]), Err("no metrics specified".into()));
    assert_eq!(
        validate(vec![
            metric("success-rate", json!({})),
            metric("success-rate", json!({}))
        ]),
        Err("metrics[1]: duplicate name 'success-rate'".into())
    );
    assert_eq!(
        validate(vec![metric(
            "m",
            json!({"count": 2, "interval": "60s", "failureLimit": 2})
        )]),
        Ok(())
    );
    assert_eq!(
        validate(vec![metric(
            "m",
            json!({"provider": {"plugin": {"argoproj-labs/x": {}}}})
        )]),
        Ok(())
    );
}

#[test]
fn go_durations_parse_as_go_parses_them() {
    assert_eq!(go_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(go_duration("1.5h"), Ok(Duration::from_secs(5400)));
    assert_eq!(go_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(go_duration("0"), Ok(Duration::ZERO));
    assert_eq!(
        go_duration("60"),
        Err("time: missing unit in duration \"60\"".into())
    );
    assert_eq!(go_duration(""), Err("time: invalid duration \"\"".into()));
}
