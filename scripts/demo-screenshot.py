#!/usr/bin/env python3
"""Screenshots of the operator's page during a real `warroom demo` run (docs/demo-page*.png).

    scripts/demo-screenshot.py [--speed X] [--at SECONDS] [--view feed|lanes]
                               [--scroll top|bottom] [--shot WxH:OUT.png]...

Starts `warroom demo --keep-serving --bind 127.0.0.1:0` in a temporary store, opens the page in
headless Chromium over WebDriver (chromedriver, as tests/browser/ does), waits until the page
is live, and AT seconds after the start (default: after the scenario ends) takes one screenshot
per --shot at that window size (default 1400x1000:docs/demo-page.png), scrolled to the newest
entry (or, with --scroll top, to the top of the page), then stops the demo with SIGINT. Only 127.0.0.1 traffic. Set WARROOM to the binary (default target/debug/warroom).
"""
import base64, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

args = sys.argv[1:]
speed, at, view, scroll, shots = "20", None, "feed", "bottom", []
while args:
    a = args.pop(0)
    if a == "--speed":
        speed = args.pop(0)
    elif a == "--at":
        at = float(args.pop(0))
    elif a == "--view":
        view = args.pop(0)
    elif a == "--scroll":
        scroll = args.pop(0)
    elif a == "--shot":
        size, out = args.pop(0).split(":", 1)
        w, h = size.split("x")
        shots.append((int(w), int(h), out))
    else:
        sys.exit(f"unknown argument {a!r}; see the docstring")
if not shots:
    shots = [(1400, 1000, "docs/demo-page.png")]

warroom = os.environ.get("WARROOM", "target/debug/warroom")
root = tempfile.mkdtemp()
demo = subprocess.Popen(
    [warroom, "--root", os.path.join(root, "channels"), "demo", "--speed", speed,
     "--bind", "127.0.0.1:0", "--keep-serving"],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
started = time.time()
channel = demo.stdout.readline().strip()
url = demo.stdout.readline().strip()
print(f"demo: {channel} at {url}", file=sys.stderr)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
driver = subprocess.Popen(["chromedriver", f"--port={port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


try:
    for _ in range(100):
        try:
            call("GET", "/status")
            break
        except OSError:
            time.sleep(0.1)
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": shutil.which("chromium"),
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-dev-shm-usage", "--window-size=1400,1000", "--no-first-run",
                 "--no-default-browser-check", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-domain-reliability",
                 "--no-pings", "--disable-default-apps", "--disable-extensions",
                 "--hide-scrollbars", f"--user-data-dir={tempfile.mkdtemp()}"]}}}}
    session = call("POST", "/session", caps)["value"]["sessionId"]
    s = f"/session/{session}"

    def js(script):
        return call("POST", s + "/execute/sync", {"script": script, "args": []})["value"]

    call("POST", s + "/url", {"url": url})
    if at is None:
        # After the scenario: the demo says so on stderr once the observers have stopped.
        for line in demo.stderr:
            if "the scenario has ended" in line:
                break
    else:
        time.sleep(max(0.0, at - (time.time() - started)))
    time.sleep(1.5)  # the last live entries render
    if view != "feed":
        js(f"document.querySelector('#views button[data-view={view}]').click(); return true")
    for w, h, out in shots:
        # The window's outer size: make the viewport (what is shown) W x H.
        call("POST", s + "/window/rect", {"width": w, "height": h})
        inner = js("return [window.innerWidth, window.innerHeight]")
        call("POST", s + "/window/rect", {"width": w + (w - inner[0]), "height": h + (h - inner[1])})
        time.sleep(0.8)
        js("window.scrollTo(0, %s); return true"
           % ("0" if scroll == "top" else "document.documentElement.scrollHeight"))
        time.sleep(0.5)
        png = call("GET", s + "/screenshot")["value"]
        with open(out, "wb") as f:
            f.write(base64.b64decode(png))
        print(f"wrote {out} ({w}x{h}) at {time.time() - started:.1f} s", file=sys.stderr)
    call("DELETE", s)
finally:
    driver.terminate()
    demo.send_signal(signal.SIGINT)
    try:
        demo.wait(timeout=30)
    except subprocess.TimeoutExpired:
        demo.kill()
    shutil.rmtree(root, ignore_errors=True)
