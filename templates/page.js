"use strict";
// The operator's page. Everything comes over one WebSocket: entries (history, then live),
// `alerts` (the alert states, computed by the relay), `state` (each observer's current view)
// and `alert` (store problems; integrity ones become gap markers in the timeline).
const KINDS = ["observation", "alert", "correction", "question", "answer", "decision", "note", "ack", "resolved"];
const PALETTE = JSON.parse(document.getElementById("palette").textContent);
const $ = (id) => document.getElementById(id);
const S = {
  channel: null, ws: null, cursor: {}, entries: new Map(), order: [], authors: new Set(),
  hiddenAuthors: new Set(), hiddenKinds: new Set(), query: "", backoff: 500, retry: null,
  ready: false, everReady: false, following: true, unseen: 0, statuses: new Map(), open: [],
  states: new Map(), gaps: new Set(), selected: null, view: "feed", notified: new Set(),
  pending: null,
};

// ---- The one colour rule (src/palette.rs): fixed roles, else FNV-1a of the name.
function colourOf(name) {
  let slot = PALETTE.fixed[name];
  if (slot === undefined) {
    let h = 0x811c9dc5;
    for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    slot = h % PALETTE.colours.length;
  }
  return PALETTE.colours[slot];
}
function paint(node, name) {
  const c = colourOf(name);
  node.style.setProperty("--c", c.hex);
  node.style.setProperty("--ink", c.ink);
}
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function anchor(id) { return "e-" + id.replace("#", "-"); }
function hhmmss(ts) { return ts ? ts.slice(11, 19) + "Z" : ""; }
function cursorString() { return Object.entries(S.cursor).map(([a, s]) => a + ":" + s).join(","); }
function setConn(cls, text) { $("conn").className = cls; $("conn-text").textContent = text; }
function sortKey(ts, author, seq) { return [ts, author, String(seq).padStart(12, "0")].join("\u0000"); }
function atBottom() { return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 48; }
function headline(body) {
  const line = (body.split("\n").find(l => l.trim()) || "").replace(/\*\*|__|`/g, "").replace(/^[#>*\- ]+/, "").trim();
  return line.length <= 160 ? line : line.slice(0, 160) + " …";
}

// ---- Title, counts
function updateTitle(open) {
  const base = "warroom — " + (S.channel || "");
  document.title = open > 0 ? "(" + open + ") " + base : base;
}
function updateCounts() {
  $("counts").textContent = S.entries.size + " entries";
}

// ---- Filters (author and kind chips, text)
function addChip(groupId, value, set, colourName) {
  const label = el("label", {});
  const box = el("input", { type: "checkbox", "data-value": value });
  box.checked = true;
  box.addEventListener("change", () => {
    if (box.checked) set.delete(value); else set.add(value);
    label.classList.toggle("off", !box.checked);
    applyFilters();
  });
  const name = el("span", {}, value);
  if (colourName) { name.className = "who"; paint(name, colourName); }
  label.append(box, name);
  $(groupId).append(label);
}
function hiddenByFilter(item) {
  const en = item.entry;
  if (S.hiddenAuthors.has(en.author) || S.hiddenKinds.has(en.kind)) return true;
  if (!S.query) return false;
  if (item.text === undefined) item.text = (en.id + " " + en.author + " " + en.kind + " " + en.body).toLowerCase();
  return !item.text.includes(S.query);
}
function applyFilters() {
  for (const item of S.entries.values()) item.node.classList.toggle("hidden", hiddenByFilter(item));
  if (S.view === "lanes") renderLanes();
}

// ---- Entries
function render(msg) {
  const en = msg.entry;
  const node = el("article", { id: anchor(en.id), class: KINDS.includes(en.kind) ? en.kind : "note",
    "data-author": en.author, "data-kind": en.kind, "data-id": en.id, tabindex: "-1" });
  paint(node, en.author);
  const meta = el("div", { class: "meta" });
  const local = new Date(en.ts).toLocaleTimeString([], { hour12: false }) + " local";
  meta.append(
    el("span", { class: "who" }, en.author),
    el("span", { class: "id" }, "#" + en.seq),
    el("span", { class: "kind" }, en.kind === "alert" ? "ALERT" : en.kind),
    el("time", { datetime: en.ts, title: en.ts.slice(0, 10) + " " + en.ts.slice(11, 23) + "Z" }, en.ts.slice(11, 23) + "Z"),
    el("span", { class: "local" }, "(" + local + ")"),
  );
  if (en.to && en.to.length) meta.append(el("span", { class: "to" }, "to " + en.to.join(", ")));
  if (en.refs && en.refs.length) {
    const refs = el("span", { class: "refs" }, "re ");
    en.refs.forEach((r, i) => {
      if (i) refs.append(", ");
      const a = el("a", { href: "#" + anchor(r), "data-ref": r }, r);
      a.addEventListener("click", (ev) => { ev.preventDefault(); jump(r); });
      refs.append(a);
    });
    meta.append(refs);
  }
  const actions = el("span", { class: "actions" });
  if (en.kind === "alert") {
    const ack = el("button", { type: "button", class: "ack", "data-ack": en.id }, "ack");
    ack.addEventListener("click", () => acknowledge(en.id));
    actions.append(ack);
  }
  const reply = el("button", { type: "button", class: "reply" }, "reply");
  reply.addEventListener("click", () => { $("refs").value = en.id; openPost(); $("text").focus(); });
  actions.append(reply);
  meta.append(actions);
  const body = el("div", { class: "body" });
  // The relay renders markdown and sanitizes it (ammonia); the CSP blocks any script anyway.
  body.innerHTML = msg.html;
  node.append(meta);
  if (en.kind === "alert") node.append(el("div", { class: "status-line" }));
  node.append(body);
  return node;
}

// History beyond the first screenful is built off the document and attached once, when the
// relay says `ready`: appended one by one, every frame laid out a longer page, and 10,000
// entries took tens of seconds instead of a few.
const FIRST_PAINT = 100;
function insertNode(node, key) {
  // Arrival order is not timeline order: place by (ts, author, seq); history comes in order.
  let i = S.order.length;
  while (i > 0 && S.order[i - 1].key > key) i--;
  if (i < S.order.length) {
    const ref = S.order[i].node;
    ref.parentNode.insertBefore(node, ref);
  } else if (!S.ready && S.order.length >= FIRST_PAINT) {
    if (!S.pending) S.pending = document.createDocumentFragment();
    S.pending.append(node);
  } else {
    attachPending();
    $("main").append(node);
  }
  return i;
}
function attachPending() {
  if (!S.pending) return;
  $("main").append(S.pending);
  S.pending = null;
}

function addEntry(msg) {
  const en = msg.entry;
  if ((S.cursor[en.author] || 0) >= en.seq) return;
  S.cursor[en.author] = en.seq;
  if (S.entries.has(en.id)) return;
  if (!S.authors.has(en.author)) { S.authors.add(en.author); addChip("f-authors", en.author, S.hiddenAuthors, en.author); }
  const node = render(msg);
  const item = { entry: en, node, key: sortKey(en.ts, en.author, en.seq) };
  S.entries.set(en.id, item);
  const wasFollowing = S.following;
  const i = insertNode(node, item.key);
  S.order.splice(i, 0, item);
  const empty = $("empty");
  if (empty) { empty.remove(); performance.mark("warroom-first-entry"); }
  if (hiddenByFilter(item)) node.classList.add("hidden");
  if (en.kind === "alert") applyStatus(item);
  if (S.ready) {
    if (wasFollowing) scheduleFollow(); else { S.unseen++; showPill(); }
    if (S.view === "lanes") renderLanes();
  }
  scheduleCounts();
}

let countsQueued = false;
function scheduleCounts() {
  if (countsQueued) return;
  countsQueued = true;
  requestAnimationFrame(() => { countsQueued = false; updateCounts(); });
}

// ---- Following the newest entry
let followQueued = false;
function scheduleFollow() {
  if (followQueued) return;
  followQueued = true;
  requestAnimationFrame(() => {
    followQueued = false;
    if (S.view === "feed") window.scrollTo(0, document.documentElement.scrollHeight);
    S.following = true;
  });
}
function showPill() {
  const p = $("pill");
  p.textContent = S.unseen + " new ↓";
  p.hidden = S.unseen === 0;
}
window.addEventListener("scroll", () => {
  if (followQueued) return;
  S.following = atBottom();
  if (S.following && S.unseen) { S.unseen = 0; showPill(); }
}, { passive: true });
$("open-jump").addEventListener("click", () => {
  S.following = false;
  $("alerts").scrollIntoView({ block: "start" });
});
$("pill").addEventListener("click", () => {
  S.unseen = 0; showPill(); S.following = true;
  window.scrollTo(0, document.documentElement.scrollHeight);
});

// ---- Gaps: damage to the record (an altered entry, a broken chain, torn or unreadable bytes,
// a truncated file), shown where it happened; each once, however often it is replayed.
function addGap(alert) {
  const g = alert.gap;
  const id = [alert.reason, alert.file, alert.line || "", g.entry || ""].join("|");
  if (S.gaps.has(id)) return;
  S.gaps.add(id);
  const node = el("div", { class: "gap", role: "note", "data-reason": alert.reason, "data-entry": g.entry || "" }, g.text);
  if (alert.message) node.title = alert.message;
  // Right after the entry it follows (or, for an altered entry, in its own place); at the end
  // when the place is unknown (a truncated file).
  const last = S.order.length ? S.order[S.order.length - 1].key : "";
  const key = g.ts ? sortKey(g.ts, alert.author || "", g.seq || 0) + "\u0001" : last + "\u0001";
  const item = { entry: { id: "gap:" + id, author: alert.author || "", kind: "gap", body: g.text }, node, key, gap: true };
  const i = insertNode(node, key);
  S.order.splice(i, 0, item);
  const empty = $("empty");
  if (empty) empty.remove();
  if (S.ready && S.following) scheduleFollow();
  if (S.view === "lanes") renderLanes();
}

// ---- Alert states (from the relay's `alerts` messages)
function statusText(st) {
  const parts = [];
  if (st.state === "resolved" && st.resolved) {
    parts.push("resolved by " + st.resolved.id + " at " + hhmmss(st.resolved.ts) + (st.resolved.text ? ": " + st.resolved.text : ""));
  }
  for (const a of st.acks || []) parts.push("acked by " + a.author + " (" + a.id + ") at " + hhmmss(a.ts) + (a.text ? ": " + a.text : ""));
  if (st.escalates) parts.push("escalates " + st.escalates);
  if (st.state === "open") parts.unshift("open — nobody has acknowledged it");
  return parts.join(" · ");
}
function applyStatus(item) {
  const st = S.statuses.get(item.entry.id);
  if (!st) return;
  const node = item.node;
  node.classList.remove("state-open", "state-acked", "state-resolved");
  node.classList.add("state-" + st.state);
  node.dataset.state = st.state;
  const line = node.querySelector(".status-line");
  if (line) line.textContent = statusText(st);
  const ack = node.querySelector("button.ack");
  if (ack) ack.hidden = st.state !== "open";
}
function onAlerts(msg) {
  S.statuses = new Map(msg.alerts.map(a => [a.id, a]));
  for (const st of msg.alerts) {
    const item = S.entries.get(st.id);
    if (item) applyStatus(item);
  }
  // One item per open thread, newest activity first.
  const threads = new Map();
  for (const a of msg.alerts) {
    if (a.state !== "open") continue;
    const t = threads.get(a.thread);
    if (!t || a.ts > t.latest.ts) threads.set(a.thread, { root: a.thread, latest: a, count: (t ? t.count : 0) + 1 });
    else t.count++;
  }
  S.open = [...threads.values()].sort((x, y) => (x.latest.ts < y.latest.ts ? 1 : x.latest.ts > y.latest.ts ? -1 : 0));
  renderOpen();
  renderQuestions(msg.questions || []);
  const n = msg.alerts.length;
  const acked = msg.alerts.filter(a => a.state === "acked").length;
  const resolved = msg.alerts.filter(a => a.state === "resolved").length;
  // As `warroom alerts` counts them; the badge above counts threads (an escalation and the
  // alert it escalates are one card), so say so when the two differ.
  const open = msg.alerts.filter(a => a.state === "open").length;
  const inThreads = open !== msg.open ? " in " + msg.open + " thread" + (msg.open === 1 ? "" : "s") : "";
  $("alerts-summary").textContent = n ? n + " alert(s): " + open + " open" + inThreads + ", " + acked + " acked, " + resolved + " resolved" : "";
  updateTitle(msg.open);
  notifyNew();
}
function renderOpen() {
  const list = $("open-list");
  list.replaceChildren();
  for (const t of S.open) {
    const a = t.latest;
    const li = el("li", { "data-id": t.root });
    const head = el("div", { class: "head" });
    const who = el("span", { class: "who" }, a.author);
    paint(who, a.author);
    head.append(who, el("span", {}, a.id), el("time", { datetime: a.ts }, hhmmss(a.ts)));
    const ack = el("button", { type: "button", "data-ack": t.root }, "ack");
    ack.addEventListener("click", () => acknowledge(t.root));
    head.append(ack);
    const text = el("span", { class: "text", title: "show it in the timeline" }, a.headline || "(no text)");
    text.addEventListener("click", () => jump(a.id));
    li.append(head, text);
    if (t.count > 1) li.append(el("span", { class: "esc" }, "escalated: " + t.count + " alerts in this thread since " + t.root));
    list.append(li);
  }
  if (!S.open.length) list.append(el("li", { class: "none dim" }, "none — every alert is acknowledged or resolved"));
  const c = $("open-count");
  c.textContent = String(S.open.length);
  c.classList.toggle("zero", S.open.length === 0);
  // On a narrow screen the list scrolls away with the page: the header keeps the count.
  const jumpTo = $("open-jump");
  jumpTo.textContent = S.open.length + " open";
  jumpTo.hidden = S.open.length === 0;
}
function renderQuestions(qs) {
  const list = $("questions");
  list.replaceChildren();
  for (const q of [...qs].reverse()) {
    const li = el("li", {});
    const head = el("div", { class: "head" });
    const who = el("span", { class: "who" }, q.author);
    paint(who, q.author);
    head.append(who, el("span", {}, q.id), el("time", { datetime: q.ts }, hhmmss(q.ts)));
    const text = el("span", { class: "text" }, q.headline);
    text.addEventListener("click", () => jump(q.id));
    li.append(head, text);
    list.append(li);
  }
  $("q-count").textContent = String(qs.length);
}
function jump(id) {
  if (S.view !== "feed") setView("feed");
  const t = $(anchor(id));
  if (!t) return;
  t.classList.remove("hidden", "flash");
  void t.offsetWidth;
  t.classList.add("flash");
  select(t);
  t.scrollIntoView({ behavior: "smooth", block: "center" });
}

// ---- Acknowledging (an `ack` entry through the relay, with the post box's token)
async function acknowledge(id) {
  const status = $("post-status");
  const token = $("token").value.trim();
  if (!token) {
    openPost();
    status.className = "err";
    status.textContent = "to ack " + id + ", paste a token first (warroom token add --role operator)";
    $("token").focus();
    return;
  }
  sessionStorage.setItem("warroom-token", token);
  status.className = ""; status.textContent = "acking " + id + "…";
  try {
    const r = await fetch("/api/channels/" + encodeURIComponent(S.channel) + "/entries", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify({ kind: "ack", body: "acknowledged", refs: [id] }),
    });
    const data = await r.json().catch(() => ({}));
    if (r.status === 201) status.textContent = "acked " + id + " (" + data.id + ")";
    else { status.className = "err"; status.textContent = r.status + ": " + (data.error || r.statusText); }
  } catch (e) {
    status.className = "err"; status.textContent = "cannot reach the relay: " + e;
  }
}

// ---- Notifications (opt-in)
function notifyOn() { return localStorage.getItem("warroom-notify") === "1" && "Notification" in window && Notification.permission === "granted"; }
function notifyNew() {
  const fresh = S.open.filter(t => !S.notified.has(t.latest.id));
  for (const t of S.open) S.notified.add(t.latest.id);
  if (!S.everReady || !notifyOn()) return;
  for (const t of fresh) {
    try { new Notification("ALERT · " + t.latest.author + " · " + S.channel, { body: t.latest.headline, tag: t.latest.id }); } catch (e) { /* not allowed here */ }
  }
}
function showNotifyState() {
  $("notify").setAttribute("aria-pressed", notifyOn() ? "true" : "false");
  $("notify").textContent = notifyOn() ? "Notifying" : "Notify me";
}
$("notify").addEventListener("click", async () => {
  if (!("Notification" in window)) { $("notify").textContent = "no notifications here"; return; }
  if (notifyOn()) { localStorage.setItem("warroom-notify", "0"); showNotifyState(); return; }
  const p = await Notification.requestPermission();
  localStorage.setItem("warroom-notify", p === "granted" ? "1" : "0");
  showNotifyState();
});

// ---- State strip
function onState(msg) {
  S.states.set(msg.role, { doc: msg.state, at: Date.now() - (msg.age_ms || 0) });
  renderStrip();
}
function phaseOf(ro) { return ro.aborted ? "aborted" : ro.status; }
function renderStrip() {
  const strip = $("strip");
  strip.replaceChildren();
  if (!S.states.size) { strip.append(el("div", { class: "none" }, "No observer has published its state yet.")); return; }
  const roles = [...S.states.keys()].sort();
  for (const role of roles) {
    for (const ro of S.states.get(role).doc.rollouts || []) strip.append(rolloutLine(ro));
  }
  for (const role of roles) {
    const doc = S.states.get(role).doc;
    if (doc.replica_sets && doc.replica_sets.length) strip.append(podsLine(doc));
    if (doc.routes && doc.routes.length) strip.append(routesLine(doc));
  }
  const fresh = el("div", { class: "fresh" });
  for (const role of roles) fresh.append(freshness(role));
  strip.append(fresh);
  measureTop();
}
function rolloutLine(ro) {
  const line = el("div", { class: "ro", "data-rollout": ro.namespace + "/" + ro.name, "data-status": ro.status, "data-aborted": String(!!ro.aborted) });
  line.append(el("span", { class: "name" }, "Rollout " + ro.namespace + "/" + ro.name));
  line.append(el("span", { class: "phase " + ro.status }, ro.status));
  if (ro.aborted) line.append(el("span", { class: "phase aborted" }, "aborted"));
  if (ro.step) line.append(el("span", {}, "step " + ro.step));
  if (ro.strategy === "Canary") line.append(el("span", {}, "setWeight " + ro.set_weight + " · actualWeight " + ro.actual_weight));
  const images = [];
  if (ro.stable_images && ro.stable_images.length) images.push("stable " + ro.stable_images.join(", "));
  if (ro.canary_images && ro.canary_images.length) images.push((ro.strategy === "BlueGreen" ? "preview " : "canary ") + ro.canary_images.join(", "));
  if (images.length) line.append(el("code", { class: "detail" }, images.join(" · ")));
  const r = ro.replicas || {};
  line.append(el("span", { class: "dim detail" }, "ready " + (r.ready || 0) + "/" + (r.desired || 0)));
  if (ro.analysis) {
    const a = ro.analysis;
    const span = el("span", { class: a.phase === "Error" || a.phase === "Failed" ? "bad" : "" }, "analysis " + a.phase);
    if (a.last) span.append(el("span", { class: "detail" }, " · last " + a.last.metric + " " + a.last.phase + (a.last.value ? " " + a.last.value : "") + (a.last.message ? " (" + a.last.message + ")" : "") + (a.last.at ? " at " + hhmmss(a.last.at) : "")));
    line.append(span);
  }
  if (ro.message) line.append(el("span", { class: "msg detail", title: ro.message }, ro.message));
  return line;
}
function podsLine(doc) {
  const line = el("div", { class: "strip-line", "data-role": doc.role });
  line.append(el("b", {}, "pods"));
  for (const rs of doc.replica_sets) {
    const s = el("span", { class: rs.not_ready ? "bad" : "" }, rs.name + " " + rs.ready + "/" + rs.desired + " ready" + (rs.not_ready ? ", " + rs.not_ready + " not ready" : "") + (rs.owner ? " (" + rs.owner + ")" : ""));
    line.append(s);
  }
  return line;
}
// Rounded down, and with the failures said: 1 failure in 300 must never read "100% ok".
function routeSuccess(r) {
  if (!r.requests) return "no requests";
  if (!r.failures) return "100% ok of " + r.requests;
  const ok = Math.floor(1000 * (r.requests - r.failures) / r.requests) / 10;
  return ok + "% ok of " + r.requests + " (" + r.failures + " failed)";
}
function routesLine(doc) {
  const line = el("div", { class: "strip-line", "data-role": doc.role });
  const w = doc.routes[0].window_ms;
  line.append(el("b", {}, "traffic" + (w ? " (last " + Math.round(w / 100) / 10 + " s)" : "")));
  for (const r of doc.routes) {
    line.append(el("span", { class: r.failures ? "bad" : "" }, r.route + " " + routeSuccess(r)));
  }
  return line;
}
function freshness(role) {
  const st = S.states.get(role);
  const age = Math.max(0, Math.round((Date.now() - st.at) / 1000));
  const beat = st.doc.heartbeat_ms || 5000;
  const span = el("span", { "data-role": role });
  const who = el("span", { class: "who" }, role);
  paint(who, role);
  span.append(who, " ");
  // The short words say it all on a narrow screen; the `.long` parts explain on a wide one.
  const long = (text) => el("span", { class: "long" }, text);
  if (st.doc.stopped) {
    span.className = "stopped";
    span.dataset.fresh = "stopped";
    span.append(long("observer "), "stopped at " + hhmmss(st.doc.written_at), long("; its last state is shown"));
  } else if (Date.now() - st.at > 3 * beat + 1000) {
    span.className = "stale";
    span.dataset.fresh = "stale";
    span.append("stale: no word for " + age + " s", long(" from its observer (it should write every " + (beat < 1000 ? (beat / 1000).toFixed(1) : Math.round(beat / 1000)) + " s) — it may have stopped"));
  } else {
    span.dataset.fresh = "live";
    span.append("live, " + age + " s ago", long(st.doc.observed_at ? " (cluster time " + hhmmss(st.doc.observed_at) + ")" : ""));
  }
  return span;
}
setInterval(() => { if (S.states.size) renderStrip(); }, 1000);

// ---- Lanes: one column per role, one row per entry, in timeline order
function roleOrder() {
  const fixed = Object.keys(PALETTE.fixed);
  const all = [...S.authors];
  return all.sort((a, b) => {
    const ia = fixed.indexOf(a), ib = fixed.indexOf(b);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
}
function renderLanes() {
  const lanes = $("lanes");
  const roles = roleOrder();
  const grid = el("div", { class: "grid" });
  // Equal columns that always fit: a lane clipped off the side would hide a role's entries.
  grid.style.gridTemplateColumns = "repeat(" + Math.max(roles.length, 1) + ", minmax(0, 1fr))";
  roles.forEach((role, i) => {
    const h = el("div", { class: "lane-head", "data-lane": role }, role);
    paint(h, role);
    h.style.gridColumn = String(i + 1);
    h.style.gridRow = "1";
    grid.append(h);
  });
  let row = 2;
  for (const item of S.order) {
    if (item.gap) {
      const g = el("div", { class: "gap" }, item.node.textContent);
      g.style.gridRow = String(row++);
      grid.append(g);
      continue;
    }
    if (item.node.classList.contains("hidden")) continue;
    const en = item.entry;
    const cell = el("div", { class: "cell " + en.kind, "data-lane": en.author, title: en.id + " · " + en.kind });
    paint(cell, en.author);
    cell.style.gridColumn = String(roles.indexOf(en.author) + 1);
    cell.style.gridRow = String(row++);
    cell.append(el("time", { datetime: en.ts }, en.ts.slice(11, 19)), (en.kind === "alert" ? "ALERT " : "") + headline(en.body));
    cell.addEventListener("click", () => jump(en.id));
    grid.append(cell);
  }
  lanes.replaceChildren(grid);
}
function setView(view) {
  S.view = view;
  for (const b of document.querySelectorAll("#views button")) b.setAttribute("aria-pressed", String(b.dataset.view === view));
  $("main").hidden = view !== "feed";
  $("lanes").hidden = view !== "lanes";
  if (view === "lanes") renderLanes();
  if (S.following) scheduleFollow();
}
for (const b of document.querySelectorAll("#views button")) b.addEventListener("click", () => setView(b.dataset.view));

// ---- Keys: j/k move, a acknowledges, / filters
function visibleArticles() { return [...document.querySelectorAll("#main article:not(.hidden)")]; }
function select(node) {
  if (S.selected) S.selected.classList.remove("selected");
  S.selected = node;
  if (node) node.classList.add("selected");
}
function move(step) {
  const list = visibleArticles();
  if (!list.length) return;
  let i = S.selected ? list.indexOf(S.selected) : -1;
  i = i < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + step));
  select(list[i]);
  list[i].scrollIntoView({ block: "nearest" });
  S.following = false;
}
document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
    if (ev.key === "Escape") t.blur();
    return;
  }
  if (ev.key === "j") { move(1); ev.preventDefault(); }
  else if (ev.key === "k") { move(-1); ev.preventDefault(); }
  else if (ev.key === "/") { $("q").focus(); ev.preventDefault(); }
  else if (ev.key === "a" && S.selected && S.selected.dataset.kind === "alert") {
    const st = S.statuses.get(S.selected.dataset.id);
    if (st && st.state === "open") acknowledge(st.thread);
    ev.preventDefault();
  }
});
$("q").addEventListener("input", () => { S.query = $("q").value.trim().toLowerCase(); applyFilters(); });

// ---- The live feed
function connect() {
  clearTimeout(S.retry);
  if (S.ws) { S.ws.onclose = null; S.ws.close(); }
  S.ready = false;
  setConn("", "connecting…");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/api/channels/" + encodeURIComponent(S.channel) +
    "/live?cursor=" + encodeURIComponent(cursorString()));
  S.ws = ws;
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === "entry") addEntry(msg);
    else if (msg.type === "alerts") onAlerts(msg);
    else if (msg.type === "state") onState(msg);
    else if (msg.type === "ready") {
      if (!S.everReady) performance.mark("warroom-ready");
      attachPending();
      S.ready = true; S.everReady = true; S.backoff = 500;
      setConn("live", "live");
      updateCounts();
      if (S.following) scheduleFollow();
    } else if (msg.type === "alert" && msg.alert) {
      if (msg.alert.gap) addGap(msg.alert);
      if (S.ready) banner("STORE ALERT", msg.alert.message || "store problem");
    }
  };
  ws.onclose = (ev) => {
    attachPending();
    const wait = S.backoff;
    S.backoff = Math.min(S.backoff * 2, 10000);
    setConn("down", "offline — reconnecting in " + Math.round(wait / 100) / 10 + " s" + (ev.reason ? " (" + ev.reason + ")" : ""));
    S.retry = setTimeout(connect, wait);
  };
}
// Store problems: at most two banners; the gap markers stay in the timeline.
function banner(what, message) {
  const b = el("div", { class: "banner" });
  b.append(el("span", { class: "what" }, what), el("span", { class: "text" }, message));
  const close = el("button", { type: "button" }, "dismiss");
  close.addEventListener("click", () => b.remove());
  b.append(close);
  $("banners").append(b);
  const all = $("banners").querySelectorAll(".banner");
  for (let i = 0; i < all.length - 2; i++) all[i].remove();
}

async function loadChannels() {
  const wanted = new URLSearchParams(location.search).get("channel");
  let list = [];
  try { list = await (await fetch("/api/channels")).json(); } catch (e) {
    setConn("down", "cannot list channels; retrying"); setTimeout(loadChannels, 2000); return;
  }
  const sel = $("channel");
  sel.replaceChildren();
  for (const c of list) sel.append(el("option", { value: c.name }, c.name + (c.sealed ? " (sealed)" : "")));
  const open = list.find((c) => !c.sealed);
  S.channel = wanted || (open ? open.name : list.length ? list[0].name : null);
  if (!S.channel) { setConn("down", "no channel yet: warroom open THEME"); setTimeout(loadChannels, 3000); return; }
  sel.value = S.channel;
  updateTitle(0);
  connect();
}
$("channel").addEventListener("change", (ev) => {
  const u = new URL(location.href);
  u.searchParams.set("channel", ev.target.value);
  location.href = u.toString();
});

// ---- Post box
function openPost() { $("post").classList.add("open"); $("compose").setAttribute("aria-expanded", "true"); }
$("compose").addEventListener("click", () => { openPost(); $("text").focus(); });
$("more").addEventListener("click", () => {
  const open = $("filters").classList.toggle("open");
  // Narrow screens fold the notification switch with the filters.
  $("top").classList.toggle("more-open", open);
  $("more").setAttribute("aria-expanded", String(open));
});
for (const k of KINDS) { addChip("f-kinds", k, S.hiddenKinds); $("kind").append(el("option", { value: k }, k)); }
$("kind").value = "note";
$("token").value = sessionStorage.getItem("warroom-token") || "";
$("token").addEventListener("change", () => sessionStorage.setItem("warroom-token", $("token").value.trim()));
async function post(ev) {
  ev.preventDefault();
  const status = $("post-status");
  const token = $("token").value.trim();
  const text = $("text").value;
  if (!token) { status.className = "err"; status.textContent = "paste a token first (warroom token add --role operator)"; return; }
  if (!text.trim() && $("kind").value !== "ack") { status.className = "err"; status.textContent = "nothing to post"; return; }
  sessionStorage.setItem("warroom-token", token);
  const refs = $("refs").value.split(/[\s,]+/).filter(Boolean);
  status.className = ""; status.textContent = "posting…";
  try {
    const r = await fetch("/api/channels/" + encodeURIComponent(S.channel) + "/entries", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify({ kind: $("kind").value, body: text, refs }),
    });
    const data = await r.json().catch(() => ({}));
    if (r.status === 201) { status.textContent = "posted " + data.id; $("text").value = ""; $("refs").value = ""; }
    else { status.className = "err"; status.textContent = r.status + ": " + (data.error || r.statusText); }
  } catch (e) { status.className = "err"; status.textContent = "cannot reach the relay: " + e; }
}
$("post").addEventListener("submit", post);
$("text").addEventListener("keydown", (ev) => { if (ev.key === "Enter" && ev.ctrlKey) post(ev); });
// The sticky header's height, for the panel and the lane heads below it.
function measureTop() { document.documentElement.style.setProperty("--top", $("top").offsetHeight + "px"); }
window.addEventListener("resize", measureTop);
measureTop();
showNotifyState();
updateCounts();
loadChannels();
