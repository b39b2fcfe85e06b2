//! The operator's page in a real headless Chromium, driven over WebDriver (chromedriver).
//!
//! Needs the apt packages `chromium` and `chromium-driver`. Without them the test is skipped
//! with a note, except when `CI` is set: then it fails, so CI can never pass without it.
//! `WARROOM_SCREENSHOT=path.png` saves a screenshot of the page as the test leaves it.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(chromedriver: &PathBuf, chromium: &PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            // A zone away from UTC, so the page's UTC and local times differ visibly.
            .env("TZ", "Europe/Berlin")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut up = false;
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "chromedriver did not come up");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // Only 127.0.0.1: no update checks, sync, metrics or other background traffic.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--disable-domain-reliability", "--no-pings",
                         "--disable-default-apps", "--disable-extensions"]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        Self {
            child,
            base,
            session,
            http,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        r["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Polls `script` until it returns true (bounded; a hang guard, not a timing check).
    async fn wait_for(&self, script: &str) {
        for _ in 0..600 {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let dom = self.js("return document.body.innerText").await;
        panic!("page never satisfied {script:?}; page text:\n{dom}");
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    async fn screenshot(&self) -> Vec<u8> {
        let v = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        decode_base64(v.as_str().expect("screenshot data"))
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_live_entries_inert_bodies_and_posts() {
    let (Some(driver), Some(chromium)) = (
        find(&["chromedriver"]),
        find(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        let msg =
            "headless Chromium not found: install the apt packages chromium and chromium-driver";
        assert!(
            std::env::var_os("CI").is_none(),
            "{msg} (CI is set, so this fails)"
        );
        eprintln!("skipped: {msg}");
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
        "`/v1/models` answers **404** on 12 of 40 requests since 17:14Z (canary backend only).\n\n| route | 2xx | 4xx |\n|---|---|---|\n| /v1/chat/completions | 40 | 0 |\n| /v1/models | 28 | 12 |",
    ]);
    env.ok(&[
        "post", "--channel", &ch, "--as", "data-plane",
        "evil body <script>window.__pwned = 1</script> and <img src=x onerror=\"window.__pwned = 2\">",
    ]);
    let server = Server::start(&env);
    let d = Driver::start(&driver, &chromium).await;
    d.goto(&format!("{}/?channel={ch}", server.url)).await;
    d.wait_for("return document.querySelectorAll('main article').length === 4 && document.getElementById('conn').className === 'live'").await;

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
    // The alert stands out, refs link to their entry.
    assert_eq!(
        d.js("return document.getElementById('e-traffic-1').classList.contains('alert')")
            .await,
        true
    );
    assert_eq!(
        d.js("return document.querySelector('#e-data-plane-1 a[data-ref]').getAttribute('href')")
            .await,
        "#e-pipeline-1"
    );

    // An entry posted from the command line appears live.
    env.post(
        &ch,
        "pipeline",
        "AnalysisRun `litellm-canary-1`: measurement 3 **Error** (1 of 5 allowed).",
    );
    d.wait_for("return !!document.getElementById('e-pipeline-2')")
        .await;

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
    // The entry arrives over the live feed, the post box reports the id from the 201.
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

    // Truncating a file raises a banner on the page.
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
    d.js("window.scrollTo(0, 0); return true").await;

    let png = d.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(env.dir.path().join("page.png"), &png).unwrap();
    if let Some(path) = std::env::var_os("WARROOM_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }
    d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}
