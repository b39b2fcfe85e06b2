//! The page following `warroom demo` (a running demo with its channel and page, stopped with
//! SIGINT): the strip to the abort, and a page opened late listing the open alerts.

use super::*;

/// A running `warroom demo --keep-serving`: its channel and page, stderr collected.
struct Demo {
    child: Child,
    channel: String,
    url: String,
    /// Set once the demo says its scenario ended.
    ended: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        for _ in 0..300 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo(env: &Env) -> Demo {
    let mut child = env
        .cmd(&[
            "demo",
            "--speed",
            "20",
            "--bind",
            "127.0.0.1:0",
            "--keep-serving",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warroom demo starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = || {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        l.trim().to_owned()
    };
    let channel = line();
    let url = line();
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ended.clone();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if l.contains("the scenario has ended") {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    Demo {
        child,
        channel,
        url,
        ended,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strip_follows_a_demo_to_its_abort_and_a_late_page_lists_open_alerts() {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let env = Env::new();
    // The browser first: on a busy machine it takes seconds to start, and the story's first
    // phases pass in the demo's first seconds.
    let d = Driver::start(&driver, &chromium).await;
    d.viewport(1400, 1000).await;
    let demo = start_demo(&env);
    d.goto(&demo.url).await;
    // Every rollout status the strip shows, in order, as the page renders it (a mutation
    // observer: nothing is missed between two polls).
    d.js("window.__seen = []; const note = () => { const r = document.querySelector('#strip .ro'); if (!r) return; const s = r.dataset.status + (r.dataset.aborted === 'true' ? ' aborted' : ''); if (window.__seen[window.__seen.length - 1] !== s) window.__seen.push(s); }; note(); new MutationObserver(note).observe(document.getElementById('strip'), { childList: true, subtree: true }); return true").await;
    d.wait_for("return document.getElementById('conn').className === 'live'")
        .await;
    for _ in 0..3000 {
        if demo.ended.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        demo.ended.load(std::sync::atomic::Ordering::SeqCst),
        "the demo never ended"
    );
    let seen: Vec<String> = serde_json::from_value(d.js("return window.__seen").await).unwrap();
    assert!(
        seen.len() >= 2,
        "the strip showed the phase change: {seen:?}"
    );
    // Before the abort the rollout was on its way (Progressing, or Paused at a canary step:
    // a page on a busy machine may connect after the first phases).
    assert!(
        seen.iter().any(|s| s == "Progressing" || s == "Paused"),
        "{seen:?}"
    );
    assert_eq!(
        seen.last().map(String::as_str),
        Some("Degraded aborted"),
        "{seen:?}"
    );
    // The observers stopped: the strip says so instead of passing their last state off as live.
    d.wait_for("return [...document.querySelectorAll('#strip .fresh [data-role]')].length === 3 && [...document.querySelectorAll('#strip .fresh [data-role]')].every(s => s.dataset.fresh === 'stopped')").await;
    let text = d
        .js("return document.getElementById('strip').innerText")
        .await;
    assert!(
        text.as_str().unwrap().contains("observer stopped at"),
        "{text}"
    );
    assert_eq!(
        d.js("return document.getElementById('strip').getAttribute('role')")
            .await,
        "status"
    );

    // A page opened after the end lists the open alerts, newest first, and counts them in its
    // title, as `warroom alerts` does.
    let open: Value =
        serde_json::from_str(&env.ok(&["alerts", "--channel", &demo.channel, "-o", "json"]))
            .unwrap();
    let open = open.as_array().unwrap();
    let threads: Vec<&Value> = open.iter().filter(|a| a["id"] == a["thread"]).collect();
    assert!(!threads.is_empty(), "the story raises alerts");
    d.goto(&demo.url).await;
    d.wait_for("return document.getElementById('conn').className === 'live'")
        .await;
    d.wait_for(&format!(
        "return document.querySelectorAll('#open-list li[data-id]').length === {}",
        threads.len()
    ))
    .await;
    assert_eq!(
        d.js("return document.title").await,
        format!("({}) warroom — {}", threads.len(), demo.channel)
    );
    // The summary under the list counts as `warroom alerts` does, and says the threads when
    // an escalation makes the badge's count smaller.
    let all: Value = serde_json::from_str(&env.ok(&[
        "alerts",
        "--channel",
        &demo.channel,
        "--state",
        "all",
        "-o",
        "json",
    ]))
    .unwrap();
    let count = |state: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["state"] == state)
            .count()
    };
    let threads_said = if open.len() == threads.len() {
        String::new()
    } else {
        format!(" in {} threads", threads.len())
    };
    assert_eq!(
        d.js("return document.getElementById('alerts-summary').textContent")
            .await,
        format!(
            "{} alert(s): {} open{threads_said}, {} acked, {} resolved",
            all.as_array().unwrap().len(),
            open.len(),
            count("acked"),
            count("resolved")
        )
    );
    let listed = d.js("return [...document.querySelectorAll('#open-list li[data-id] time')].map(t => t.getAttribute('datetime'))").await;
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(listed, sorted, "newest first");
    // Clicking an alert jumps to it in the timeline.
    let first = d
        .js("return document.querySelector('#open-list li[data-id]').dataset.id")
        .await;
    let first = first.as_str().unwrap().to_owned();
    d.click("#open-list li[data-id] .text").await;
    d.wait_for("const s = document.querySelector('article.selected'); if (!s) return false; const r = s.getBoundingClientRect(); return r.bottom > 0 && r.top < window.innerHeight").await;

    // Acking from the page: the alert leaves the open list and `warroom alerts` agrees.
    let token = env.token(&demo.channel, "operator");
    d.type_into("#token", &token).await;
    d.click(&format!("#open-list li[data-id=\"{first}\"] button"))
        .await;
    d.wait_for(&format!(
        "return !document.querySelector('#open-list li[data-id=\"{first}\"]')"
    ))
    .await;
    d.wait_for(&format!(
        "return document.title === '({}) warroom — {}'",
        threads.len() - 1,
        demo.channel
    ))
    .await;
    let still: Value =
        serde_json::from_str(&env.ok(&["alerts", "--channel", &demo.channel, "-o", "json"]))
            .unwrap();
    assert!(
        still
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["thread"] != first.as_str()),
        "{still}"
    );
    let acked: Value = serde_json::from_str(&env.ok(&[
        "alerts",
        "--channel",
        &demo.channel,
        "--state",
        "acked",
        "-o",
        "json",
    ]))
    .unwrap();
    assert!(
        acked
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == first.as_str() && a["acks"][0]["author"] == "operator"),
        "{acked}"
    );

    // Wide, the list itself is in view: no count in the header.
    assert_eq!(
        d.js("return getComputedStyle(document.getElementById('open-jump')).display")
            .await,
        "none"
    );
    // 420 px: the header and the post box collapse; tables scroll inside their card.
    d.viewport(420, 700).await;
    d.wait_for("return window.innerWidth === 420").await;
    assert_eq!(
        d.js("return getComputedStyle(document.getElementById('text')).display")
            .await,
        "none"
    );
    assert_eq!(
        d.js("return getComputedStyle(document.getElementById('filters')).display")
            .await,
        "none"
    );
    assert_eq!(
        d.js("return document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        true,
        "nothing is wider than the screen"
    );
    // Scrolled down to the newest entry, the open alerts have scrolled away: the sticky
    // header keeps their count, and a tap on it brings the list back.
    let open_now = threads.len() - 1;
    d.js("window.scrollTo(0, document.documentElement.scrollHeight); return true")
        .await;
    d.wait_for(&format!(
        "const b = document.getElementById('open-jump'); const r = b.getBoundingClientRect(); return window.scrollY > 0 && b.textContent === '{open_now} open' && r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth && document.getElementById('alerts').getBoundingClientRect().bottom < 0"
    ))
    .await;
    d.click("#open-jump").await;
    d.wait_for("const h = document.getElementById('alerts-title').getBoundingClientRect(); return h.top >= document.getElementById('top').offsetHeight - 1 && h.bottom <= window.innerHeight")
        .await;
    // However many alerts are open, the feed starts within the first screen: the list
    // scrolls in its own box.
    assert!(threads.len() > 5, "enough open alerts to fill a screen");
    d.js("window.scrollTo(0, 0); return true").await;
    d.wait_for("return window.scrollY === 0").await;
    assert_eq!(
        d.js("const l = document.getElementById('open-list'); return [l.scrollHeight > l.clientHeight, document.querySelector('main article').getBoundingClientRect().top < window.innerHeight]")
            .await,
        json!([true, true])
    );
    // The lanes fit the screen: every role's column is on it, none clipped off the side.
    d.click("#views button[data-view=lanes]").await;
    d.wait_for("return !document.getElementById('lanes').hidden")
        .await;
    assert_eq!(
        d.js("const heads = [...document.querySelectorAll('#lanes .lane-head')]; return [heads.length, heads.every(h => { const r = h.getBoundingClientRect(); return r.width > 40 && r.left >= 0 && r.right <= window.innerWidth; }), document.documentElement.scrollWidth <= window.innerWidth]")
            .await,
        json!([4, true, true])
    );
    d.click("#views button[data-view=feed]").await;
    // The notification switch folds with the filters.
    assert_eq!(
        d.js("return getComputedStyle(document.getElementById('notify')).display")
            .await,
        "none"
    );
    d.click("#more").await;
    assert_eq!(
        d.js("const n = document.getElementById('notify').getBoundingClientRect(); return n.width > 0 && n.right <= window.innerWidth")
            .await,
        true
    );
    d.quit().await;
}
