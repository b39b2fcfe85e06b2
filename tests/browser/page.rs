//! The page itself: entries, alerts, lanes, gap markers and posting, and a long history keeping
//! its order and its gaps.

use super::*;

/// Flips one byte of `needle` inside `file` (same length: only the checksum can tell).
fn tamper(file: &std::path::Path, needle: &str, with: &str) {
    assert_eq!(needle.len(), with.len());
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains(needle),
        "{needle:?} not in {}",
        file.display()
    );
    std::fs::write(file, text.replacen(needle, with, 1)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_entries_alerts_lanes_gaps_and_posts() {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let env = Env::new();
    let ch = env.open("litellm-canary");
    env.post(
        &ch,
        "pipeline",
        "Rollout `litellm` step 1/8: setWeight 20. Canary RS `litellm-67b4ccbdb4` created at replicas 1.",
    );
    env.ok(&[
        "post", "--channel", &ch, "--as", "data-plane", "--ref", "pipeline#1",
        "Stable RS scaled **5 → 4**; canary pod `litellm-67b4ccbdb4-x2k9p` Ready on node `ip-10-0-3-17`.",
    ]);
    env.ok(&[
        "post", "--channel", &ch, "--as", "traffic", "--kind", "alert",
        "`/v1/models` answers **404** on 12 of 40 requests since 17:14Z (canary backend only).\n\n| route | 2xx | 4xx | 5xx | p50 ms | p95 ms | backend | note |\n|---|---|---|---|---|---|---|---|\n| /v1/chat/completions | 40 | 0 | 0 | 17 | 20 | litellm-6c8d9f7b4f-2n7xw | fine |\n| /v1/models | 28 | 12 | 0 | 7 | 12 | litellm-67b4ccbdb4-qz8rm | canary only |",
    ]);
    env.ok(&[
        "post", "--channel", &ch, "--as", "data-plane",
        "evil body <script>window.__pwned = 1</script> and <img src=x onerror=\"window.__pwned = 2\">",
    ]);
    env.post(
        &ch,
        "pipeline",
        "Rollout `litellm`: analysis run started (the ORIGINAL text).",
    );
    env.post(&ch, "pipeline", "Rollout `litellm`: step 2/8.");
    // An old entry altered on disk: the page opened afterwards marks its place.
    tamper(&env.author_file(&ch, "pipeline"), "ORIGINAL", "ALTERED!");
    let server = Server::start(&env);
    let d = Driver::start(&driver, &chromium).await;
    d.viewport(1400, 1000).await;
    d.goto(&format!("{}/?channel={ch}", server.url)).await;
    d.wait_for("return document.querySelectorAll('main article').length === 5 && document.getElementById('conn').className === 'live'").await;

    // The hostile body is shown as text: no script ran, no element was created.
    assert_eq!(d.js("return window.__pwned === undefined").await, true);
    assert_eq!(
        d.js("return document.querySelectorAll('main article script, main article img').length")
            .await,
        0
    );
    assert_eq!(
        d.js("return document.getElementById('e-data-plane-2').innerText.includes('<script>')")
            .await,
        true
    );
    // The altered entry is not shown; a gap marker stands in its place, between its neighbours.
    let gap = d
        .js("const g = document.querySelector('main .gap'); return g && [g.textContent, g.previousElementSibling.id, g.nextElementSibling.id]")
        .await;
    assert_eq!(
        gap[0],
        "pipeline#2 failed its checksum (its bytes were changed): run `warroom verify`"
    );
    assert_eq!(
        (gap[1].as_str(), gap[2].as_str()),
        (Some("e-data-plane-2"), Some("e-pipeline-3")),
        "{gap}"
    );
    // The alert stands out and is open; refs link to their entry; the title counts it.
    assert_eq!(
        d.js("const a = document.getElementById('e-traffic-1'); return [a.classList.contains('alert'), a.dataset.state]")
            .await,
        json!([true, "open"])
    );
    assert_eq!(
        d.js("return document.querySelector('#e-data-plane-1 a[data-ref]').getAttribute('href')")
            .await,
        "#e-pipeline-1"
    );
    assert_eq!(
        d.js("return document.title").await,
        format!("(1) warroom — {ch}")
    );
    assert_eq!(
        d.js("return document.querySelectorAll('#open-list li[data-id]').length")
            .await,
        1
    );
    // One colour rule: the page's author colours are the terminal's (src/palette.rs).
    for role in ["pipeline", "traffic", "data-plane"] {
        let shown = d
            .js(&format!("return document.querySelector('article[data-author=\"{role}\"]').style.getPropertyValue('--c')"))
            .await;
        assert_eq!(shown, warroom::palette::of(role).hex, "{role}");
    }
    let custom = d.js("return colourOf('terminal-1').hex").await;
    assert_eq!(custom, warroom::palette::of("terminal-1").hex);
    // A light theme through prefers-color-scheme: light ground and dark text, and the same
    // author swatches (their ink is chosen against the swatch, not the ground).
    let look = "const c = (el, p) => getComputedStyle(el)[p]; const who = document.querySelector('#e-pipeline-1 .who'); return [c(document.body, 'backgroundColor'), c(document.body, 'color'), c(who, 'backgroundColor'), c(who, 'color')]";
    let mut looks = Vec::new();
    for scheme in ["dark", "light"] {
        d.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setEmulatedMedia", "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}}),
        )
        .await;
        d.wait_for(&format!(
            "return matchMedia('(prefers-color-scheme: {scheme})').matches"
        ))
        .await;
        looks.push(d.js(look).await);
    }
    assert_eq!(looks[0][0], "rgb(15, 18, 22)", "dark ground: {looks:?}");
    assert_eq!(looks[1][0], "rgb(246, 247, 249)", "light ground: {looks:?}");
    assert_eq!(
        looks[1][1], "rgb(28, 33, 40)",
        "dark text on light: {looks:?}"
    );
    assert_eq!(looks[0][2], looks[1][2], "the same swatch: {looks:?}");
    assert_eq!(looks[0][2], "rgb(68, 119, 170)", "{looks:?}");
    assert_eq!(looks[0][3], looks[1][3], "the same ink: {looks:?}");
    // A wide table scrolls inside its card instead of widening it.
    assert_eq!(
        d.js("const t = document.querySelector('#e-traffic-1 table'); return getComputedStyle(t).overflowX")
            .await,
        "auto"
    );

    // The feed follows new entries while at the bottom…
    d.js("window.scrollTo(0, document.documentElement.scrollHeight); return true")
        .await;
    d.wait_for(
        "return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 48",
    )
    .await;
    for i in 0..6 {
        env.post(
            &ch,
            "data-plane",
            &format!("pods settle, window {i}\n\n{}", "line\n\n".repeat(8)),
        );
    }
    d.wait_for("return !!document.getElementById('e-data-plane-8')")
        .await;
    d.wait_for("const r = document.getElementById('e-data-plane-8').getBoundingClientRect(); return r.top < window.innerHeight && window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 48").await;
    assert_eq!(
        d.js("return document.getElementById('pill').hidden").await,
        true
    );
    // …and, scrolled up, counts what arrives in a pill instead of moving.
    // The page learns of a scroll from its scroll event, a frame later; under load an entry
    // can land first and be followed, as it should while the page still follows. So post
    // only once the page itself says it stopped following (`S.following`), scrolling up
    // again, as an operator would, should a follow still have been queued.
    d.js("window.scrollTo(0, 0); return true").await;
    d.wait_for(
        "if (window.scrollY !== 0 || S.following) window.scrollTo(0, 0); return window.scrollY === 0 && !S.following",
    )
    .await;
    env.post(
        &ch,
        "pipeline",
        "AnalysisRun `litellm-canary-1`: measurement 3 **Error** (1 of 5 allowed).",
    );
    d.wait_for("return !!document.getElementById('e-pipeline-4')")
        .await;
    d.wait_for("const p = document.getElementById('pill'); return !p.hidden && p.textContent === '1 new ↓'").await;
    assert_eq!(d.js("return window.scrollY").await, 0);
    d.click("#pill").await;
    d.wait_for("return document.getElementById('pill').hidden && window.scrollY > 0")
        .await;

    // Lanes: one column per role, each entry in its author's column, rows in time order.
    d.click("#views button[data-view=lanes]").await;
    d.wait_for("return !document.getElementById('lanes').hidden")
        .await;
    let lanes = d
        .js("return [...document.querySelectorAll('#lanes .lane-head')].map(h => h.textContent)")
        .await;
    assert_eq!(lanes, json!(["data-plane", "pipeline", "traffic"]));
    assert_eq!(
        d.js("const heads = [...document.querySelectorAll('#lanes .lane-head')]; return [...document.querySelectorAll('#lanes .cell')].every(c => heads[parseInt(c.style.gridColumnStart) - 1].textContent === c.dataset.lane)")
            .await,
        true
    );
    assert_eq!(
        d.js("const rows = [...document.querySelectorAll('#lanes .cell, #lanes .gap')].map(c => parseInt(c.style.gridRowStart)); return rows.every((r, i) => i === 0 || r > rows[i - 1])")
            .await,
        true
    );
    d.click("#views button[data-view=feed]").await;

    let token = env.token(&ch, "operator");
    // The operator post box posts with a token pasted into the page.
    d.type_into("#token", &token).await;
    d.type_into("#refs", "traffic#1").await;
    d.type_into(
        "#text",
        "Hold the rollout: investigating the **404s** on `/v1/models`.",
    )
    .await;
    d.js("document.getElementById('kind').value = 'decision'; return true")
        .await;
    d.click("#send").await;
    d.wait_for("return !!document.getElementById('e-operator-1')")
        .await;
    d.wait_for("return document.getElementById('post-status').textContent === 'posted operator#1'")
        .await;
    let stored = env.ok(&[
        "timeline",
        "--channel",
        &ch,
        "--author",
        "operator",
        "--format",
        "ndjson",
    ]);
    assert!(stored.contains("Hold the rollout"), "{stored}");
    assert!(stored.contains("\"kind\":\"decision\""), "{stored}");

    // Keys: j/k select entries, `a` acknowledges the selected alert; the panel empties, the
    // title drops its count, the card says who acked, and `warroom alerts` agrees.
    d.js("document.activeElement.blur(); return true").await;
    d.js("jump('traffic#1'); return true").await;
    d.wait_for("return document.querySelector('article.selected') && document.querySelector('article.selected').id === 'e-traffic-1'").await;
    d.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'j'})); return true")
        .await;
    assert_eq!(
        d.js("return document.querySelector('article.selected').id")
            .await,
        "e-data-plane-2"
    );
    d.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'k'})); document.dispatchEvent(new KeyboardEvent('keydown', {key: 'a'})); return true").await;
    d.wait_for("return document.querySelectorAll('#open-list li[data-id]').length === 0")
        .await;
    d.wait_for(&format!("return document.title === 'warroom — {ch}'"))
        .await;
    d.wait_for("return document.getElementById('e-traffic-1').dataset.state === 'acked'")
        .await;
    let line = d
        .js("return document.querySelector('#e-traffic-1 .status-line').textContent")
        .await;
    assert!(
        line.as_str()
            .unwrap()
            .starts_with("acked by operator (operator#2)"),
        "{line}"
    );
    let open: Value =
        serde_json::from_str(&env.ok(&["alerts", "--channel", &ch, "-o", "json"])).unwrap();
    assert_eq!(open, json!([]));
    let acked: Value = serde_json::from_str(&env.ok(&[
        "alerts",
        "--channel",
        &ch,
        "--state",
        "acked",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(acked[0]["id"], "traffic#1");
    assert_eq!(acked[0]["acks"][0]["author"], "operator");
    // `/` goes to the text filter, which hides what does not match.
    d.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: '/'})); return true")
        .await;
    assert_eq!(d.js("return document.activeElement.id").await, "q");
    d.type_into("#q", "404").await;
    d.wait_for("return document.querySelectorAll('main article:not(.hidden)').length === 2")
        .await;
    d.js("const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input')); return true").await;

    // A malformed, then a huge state file: each a store alert banner, and the page carries on;
    // the next good state shows in the strip.
    let state_file = env.root.join(&ch).join(".warroom/state/pipeline.json");
    std::fs::create_dir_all(state_file.parent().unwrap()).unwrap();
    std::fs::write(&state_file, b"{\"version\": 1, \"role\": ").unwrap();
    d.wait_for("return [...document.querySelectorAll('#banners .banner')].some(b => b.textContent.includes('the state of pipeline is ignored'))").await;
    std::fs::write(&state_file, vec![b' '; 300 * 1024]).unwrap();
    d.wait_for("return [...document.querySelectorAll('#banners .banner')].some(b => b.textContent.includes('over the limit'))").await;
    let mut doc =
        warroom::state::StateDoc::new(warroom::channel::Author::new("pipeline").unwrap(), 5000);
    doc.rollouts.push(warroom::state::RolloutState {
        namespace: "llm".into(),
        name: "litellm".into(),
        status: "Paused".into(),
        strategy: "Canary".into(),
        step: "1/8".into(),
        set_weight: 20,
        ..Default::default()
    });
    warroom::state::file::write(&env.channel(&ch), &doc).unwrap();
    d.wait_for("const r = document.querySelector('#strip .ro[data-rollout=\"llm/litellm\"]'); return !!r && r.dataset.status === 'Paused'").await;
    assert_eq!(
        d.js("return document.getElementById('conn').className")
            .await,
        "live"
    );
    // A route's success is rounded down and its failures said: one failure is never "100% ok".
    let mut traffic =
        warroom::state::StateDoc::new(warroom::channel::Author::new("traffic").unwrap(), 5000);
    for (route, requests, failures) in [("GET /v1/models", 300, 1), ("POST /v1/chat", 40, 0)] {
        traffic.routes.push(warroom::state::RouteState {
            route: route.into(),
            requests,
            failures,
            window_ms: 3000,
            p50_ms: None,
        });
    }
    warroom::state::file::write(&env.channel(&ch), &traffic).unwrap();
    d.wait_for("return !!document.querySelector('#strip .strip-line[data-role=\"traffic\"]')")
        .await;
    assert_eq!(
        d.js("return [...document.querySelectorAll('#strip .strip-line[data-role=\"traffic\"] span')].map(s => [s.textContent, s.className])")
            .await,
        json!([
            ["GET /v1/models 99.6% ok of 300 (1 failed)", "bad"],
            ["POST /v1/chat 100% ok of 40", ""]
        ])
    );
    // An observer that promised a state every 200 ms and then went quiet: the strip says its
    // state is stale instead of passing it off as live.
    doc.heartbeat_ms = 200;
    warroom::state::file::write(&env.channel(&ch), &doc).unwrap();
    d.wait_for("const s = document.querySelector('#strip .fresh [data-role=\"pipeline\"]'); return !!s && s.dataset.fresh === 'stale' && s.textContent.includes('stale: no word for')").await;
    d.js("for (const b of document.querySelectorAll('#banners .banner')) b.remove(); return true")
        .await;

    // Truncating a file: a store alert banner and a gap marker at the end of the timeline.
    let file = env.author_file(&ch, "pipeline");
    let len = file_len(&file);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    d.wait_for("return document.querySelectorAll('#banners .banner').length > 0")
        .await;
    d.wait_for("return [...document.querySelectorAll('main .gap')].some(g => g.textContent.startsWith('pipeline.md was truncated'))").await;
    d.js("window.scrollTo(0, 0); return true").await;

    let png = d.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(env.dir.path().join("page.png"), &png).unwrap();
    if let Some(path) = std::env::var_os("WARROOM_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }
    d.quit().await;
}

/// A history longer than the first screenful is built off the page and attached at `ready`:
/// every entry still lands in timeline order, an altered one's gap marker in its place, and
/// what arrives live after it at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_keeps_its_order_and_its_gaps() {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let env = Env::new();
    let ch = env.open("long-history");
    // Two authors interleaved in time, 300 entries in all.
    for i in 1..=150u64 {
        env.post(&ch, "pipeline", &format!("pipeline entry {i:03}"));
        env.post(&ch, "data-plane", &format!("data-plane entry {i:03}"));
    }
    // Past the first screenful: its gap lands among the entries attached at `ready`.
    tamper(
        &env.author_file(&ch, "pipeline"),
        "pipeline entry 120",
        "pipeline entry 12X",
    );
    // And an entry removed from between others: the chain breaks there.
    let file = env.author_file(&ch, "data-plane");
    let text = std::fs::read_to_string(&file).unwrap();
    let from = text.find("<!-- warroom:entry id=data-plane#50 ").unwrap();
    let to = text.find("<!-- warroom:entry id=data-plane#51 ").unwrap();
    std::fs::write(&file, format!("{}{}", &text[..from], &text[to..])).unwrap();
    let server = Server::start(&env);
    let d = Driver::start(&driver, &chromium).await;
    d.viewport(1400, 1000).await;
    d.goto(&format!("{}/?channel={ch}", server.url)).await;
    d.wait_for("return document.getElementById('conn').className === 'live' && document.querySelectorAll('main article').length === 298").await;
    let order = d
        .js("return [...document.querySelectorAll('main > article, main > .gap')].map(n => n.id || 'gap')")
        .await;
    let order: Vec<String> = serde_json::from_value(order).unwrap();
    let mut want = Vec::new();
    for i in 1..=150u64 {
        want.push(if i == 120 {
            "gap".to_owned()
        } else {
            format!("e-pipeline-{i}")
        });
        match i {
            // The gap goes right after the last good entry before the hole.
            49 => want.extend(["e-data-plane-49".to_owned(), "gap".to_owned()]),
            50 => {}
            _ => want.push(format!("e-data-plane-{i}")),
        }
    }
    assert_eq!(order, want);
    assert_eq!(
        d.js("return [...document.querySelectorAll('main > .gap')].map(g => g.textContent)")
            .await,
        json!([
            "data-plane#50 is missing before data-plane#51: run `warroom verify`",
            "pipeline#120 failed its checksum (its bytes were changed): run `warroom verify`",
        ])
    );
    env.post(&ch, "data-plane", "live after the history");
    d.wait_for("const last = document.querySelector('main').lastElementChild; return last && last.id === 'e-data-plane-151'").await;
    d.quit().await;
}
