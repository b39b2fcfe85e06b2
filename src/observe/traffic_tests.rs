use super::*;

#[test]
fn routes_parse_method_path_and_body() {
    assert_eq!(
        Route::parse("POST /v1/embeddings {\"input\": \"hi\"}").unwrap(),
        Route {
            method: "POST".into(),
            path: "/v1/embeddings".into(),
            body: Some("{\"input\": \"hi\"}".into())
        }
    );
    assert_eq!(Route::parse("/health").unwrap().method, "GET");
    assert!(Route::parse("POST v1").is_err());
}

#[test]
fn rates_parse() {
    assert_eq!(parse_rate("10/s").unwrap(), 10.0);
    assert_eq!(parse_rate("600/m").unwrap(), 10.0);
    assert_eq!(parse_rate("5").unwrap(), 5.0);
    assert!(parse_rate("0").is_err());
    assert!(parse_rate("fast").is_err());
}

fn outcome(status: Option<u16>, backend: &str) -> Outcome {
    Outcome {
        route: 0,
        status,
        timed_out: false,
        latency: Duration::from_millis(10),
        backend: Some(backend.into()),
    }
}

#[test]
fn every_non_2xx_3xx_is_a_failure_and_spread_is_measured() {
    let mut t = Tally::default();
    for s in [200, 301, 404, 429, 500] {
        t.add(&outcome(Some(s), "a"));
    }
    t.add(&outcome(None, "b"));
    assert_eq!(t.total(), 6);
    assert_eq!(t.failures(), 4);
    let (mean, cv) = t.spread().unwrap();
    assert_eq!(mean, 3.0);
    assert!((cv - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(t.percentile(99.0), Some(10.0));
}

#[test]
fn a_route_alerts_once_when_it_crosses_the_threshold_and_recovers_once() {
    let route = Route::parse("GET /x").unwrap();
    let mut alarms = Alarms::default();
    let mut t = Tally::default();
    let mut alerts = 0;
    for _ in 0..10 {
        t.add(&outcome(Some(429), "a"));
        alerts += usize::from(alarms.check(&route, 0, &t, 0.05).is_some());
    }
    assert_eq!(alerts, 1);
    // The window that raised it ends failing: nothing to recover.
    assert!(
        alarms
            .window_end(std::slice::from_ref(&route), &[t], 0.05)
            .is_empty()
    );
    let mut ok = Tally::default();
    ok.add(&outcome(Some(200), "a"));
    assert_eq!(
        alarms
            .window_end(std::slice::from_ref(&route), &[ok.clone()], 0.05)
            .len(),
        1
    );
    assert!(alarms.window_end(&[route], &[ok], 0.05).is_empty());
}

#[test]
fn the_window_that_raised_an_alert_does_not_resolve_it() {
    // 1 of 19 is over 5 %; the same window closing at 1 of 20 is not: without hysteresis
    // the alert would be resolved at once and raised again by the next bad request.
    let route = Route::parse("POST /v1/embeddings").unwrap();
    let mut alarms = Alarms::default();
    let mut t = Tally::default();
    for _ in 0..18 {
        t.add(&outcome(Some(200), "a"));
    }
    t.add(&outcome(Some(404), "b"));
    assert!(alarms.check(&route, 0, &t, 0.05).is_some());
    t.add(&outcome(Some(200), "a"));
    assert!(alarms.check(&route, 0, &t, 0.05).is_none());
    let one = std::slice::from_ref(&route);
    assert!(
        alarms
            .window_end(one, std::slice::from_ref(&t), 0.05)
            .is_empty()
    );
    // A whole later window at or under the threshold recovers it, once.
    assert_eq!(
        alarms.window_end(one, std::slice::from_ref(&t), 0.05).len(),
        1
    );
    assert!(alarms.check(&route, 0, &t, 0.05).is_none());
}

#[test]
fn one_route_is_warned_about() {
    let c = TrafficConfig::new(
        "http://127.0.0.1:1",
        vec![Route::parse("/x").unwrap()],
        1.0,
        Bound::Count(1),
        Duration::from_secs(1),
        None,
        Duration::from_secs(1),
        0.05,
    )
    .unwrap();
    assert!(c.warnings()[0].contains("only one route"));
}
