//! Notifications: opt in, through a stubbed Notification API, and the page saying who acked.

use super::*;

/// A stand-in for the browser's `Notification`, installed before the page loads: records every
/// notification shown and every permission request; the permission it grants outlives a reload,
/// as a real browser's does.
const NOTIFICATION_STUB: &str = r#"
window.__notes = []; window.__asked = 0;
window.Notification = class {
  constructor(title, opts) { window.__notes.push({ title, body: opts && opts.body, tag: opts && opts.tag }); }
  static get permission() { return localStorage.getItem("stub-permission") || "default"; }
  static requestPermission() { window.__asked++; localStorage.setItem("stub-permission", "granted"); return Promise.resolve("granted"); }
};
"#;

/// The opt-in notification: nothing is shown (or asked) until the operator opts in; then each
/// new alert is shown once, alerts already there when the page opens are not; opting out stops
/// them. And an ack written by an agent's role shows on the page as that role's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_opt_in_and_the_page_says_who_acked() {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let env = Env::new();
    let ch = env.open("litellm-canary");
    let alert = |role: &str, text: &str| {
        env.ok(&[
            "post",
            "--channel",
            &ch,
            "--as",
            role,
            "--kind",
            "alert",
            text,
        ])
    };
    alert("traffic", "`/v1/models` answers **404** on the canary.");
    let server = Server::start(&env);
    let d = Driver::start(&driver, &chromium).await;
    d.before_load(NOTIFICATION_STUB).await;
    d.viewport(1400, 1000).await;
    let url = format!("{}/?channel={ch}", server.url);
    d.goto(&url).await;
    d.wait_for("return document.getElementById('conn').className === 'live' && document.querySelectorAll('#open-list li[data-id]').length === 1").await;
    assert_eq!(
        d.js("return [document.getElementById('notify').getAttribute('aria-pressed'), window.__asked]")
            .await,
        json!(["false", 0])
    );

    // Not opted in: a new alert is listed, and nothing is shown or asked.
    alert("traffic", "`/v1/models` still answers **404**.");
    d.wait_for("return document.querySelectorAll('#open-list li[data-id]').length === 2")
        .await;
    assert_eq!(
        d.js("return [window.__notes, window.__asked]").await,
        json!([[], 0])
    );

    // Opted in: the permission is asked once; the next alert is shown once, with its author,
    // channel, headline and id; the alerts before it are not.
    d.click("#notify").await;
    d.wait_for("return document.getElementById('notify').getAttribute('aria-pressed') === 'true'")
        .await;
    assert_eq!(d.js("return window.__asked").await, 1);
    let id = alert(
        "pipeline",
        "**AnalysisRun `litellm-canary-1` Error**: the metric source returns no data.",
    );
    assert_eq!(id.trim(), "pipeline#1");
    d.wait_for("return window.__notes.length === 1").await;
    // Settled: another alerts message (an ack by the operator's page would be one) adds none.
    d.wait_for("return document.querySelectorAll('#open-list li[data-id]').length === 3")
        .await;
    assert_eq!(
        d.js("return window.__notes").await,
        json!([{
            "title": format!("ALERT · pipeline · {ch}"),
            "body": "AnalysisRun litellm-canary-1 Error: the metric source returns no data.",
            "tag": "pipeline#1",
        }])
    );

    // The choice outlives a reload; what is open when the page opens is not news.
    d.goto(&url).await;
    d.wait_for("return document.getElementById('conn').className === 'live' && document.querySelectorAll('#open-list li[data-id]').length === 3").await;
    assert_eq!(
        d.js("return [document.getElementById('notify').getAttribute('aria-pressed'), window.__notes.length, window.__asked]")
            .await,
        json!(["true", 0, 0])
    );
    alert(
        "data-plane",
        "Canary pod `litellm-67b4ccbdb4-x2k9p` CrashLoopBackOff.",
    );
    d.wait_for("return window.__notes.length === 1 && window.__notes[0].tag === 'data-plane#1'")
        .await;

    // Opted out: the next alert is listed and not shown.
    d.click("#notify").await;
    d.wait_for("return document.getElementById('notify').getAttribute('aria-pressed') === 'false'")
        .await;
    alert(
        "traffic",
        "`/v1/chat/completions` answers **429** on 3 of 40.",
    );
    d.wait_for("return document.querySelectorAll('#open-list li[data-id]').length === 5")
        .await;
    assert_eq!(d.js("return window.__notes.length").await, 1);

    // An agent acks as its role (here through the command line, as its MCP `ack` does): the
    // card says who acked and why, and the alert leaves the open list.
    env.ok(&[
        "ack",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "traffic#1",
        "-m",
        "looking: canary only",
    ]);
    d.wait_for("return document.getElementById('e-traffic-1').dataset.state === 'acked'")
        .await;
    let line = d
        .js("return document.querySelector('#e-traffic-1 .status-line').textContent")
        .await;
    let line = line.as_str().unwrap();
    assert!(
        line.starts_with("acked by pipeline (pipeline#2) at ")
            && line.ends_with(": looking: canary only"),
        "{line}"
    );
    d.wait_for("return !document.querySelector('#open-list li[data-id=\"traffic#1\"]')")
        .await;
    d.quit().await;
}
