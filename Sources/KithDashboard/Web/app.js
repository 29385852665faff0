// Kith dashboard: one page, no dependencies. Every string from the node (names, transcripts,
// memories: much of it written by other people's AIs) goes into the page as text, never as HTML.
"use strict";

// ---------- DOM and API helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

class APIError extends Error {}

// The token lives in this origin's localStorage (another port is another origin) and goes in
// an Authorization header: no cookie, so no other page's request can carry it.
const auth = () => ({ Authorization: "Bearer " + (localStorage.getItem("kith-token") || "") });

function post(path, body) {
  return fetch(path, { method: "POST", headers: { ...auth(), "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
}

async function api(cmd, fields) {
  const res = await post("/api/" + cmd, fields);
  if (res.status === 401) { showSignIn(); throw new APIError("not signed in"); }
  const body = await res.json().catch(() => ({ ok: false, error: "the node sent an unreadable answer" }));
  if (!body.ok) throw new APIError(body.error || "failed");
  return body.result;
}

function toast(text, bad) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = "toast" + (bad ? " bad" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

async function act(button, work) {
  button.disabled = true;
  try { await work(); } catch (e) { toast(e.message, true); } finally { button.disabled = false; }
}

const shortID = (did) => did ? did.replace("did:key:", "").slice(0, 12) + "…" : "";
const when = (ms) => ms ? new Date(Number(ms)).toLocaleString() : "never";
const setMain = (...nodes) => { const m = document.getElementById("main"); m.replaceChildren(...nodes.flat().filter((n) => n !== "" && n != null)); };

// ---------- Sign-in: the address from `kith dashboard` carries a single-use #code=… ----------

async function signIn() {
  const match = location.hash.match(/code=([A-Za-z0-9_-]+)/);
  if (!match) return;
  history.replaceState(null, "", location.pathname + "#/home");
  const res = await fetch("/api/sign-in", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code: match[1] }) });
  const body = await res.json().catch(() => ({}));
  if (body.ok) localStorage.setItem("kith-token", body.result);
  else toast(body.error || "sign-in failed: run `kith dashboard` again", true);
}

function showSignIn() {
  setMain(h("div", { class: "card", id: "signin" },
    h("h1", {}, "Open the dashboard from your node"),
    h("p", {}, "Run ", h("code", {}, "kith dashboard"), " on the machine the node runs on and open the address it prints within a minute. ",
      "It signs this browser in once; the address cannot be used again.")));
}

// ---------- Live updates ----------

const views = {};
let current = null;
let myDID = null;

// Server-sent events read with fetch (EventSource cannot send the Authorization header).
async function connectFeed() {
  const live = document.getElementById("live");
  for (;;) {
    try {
      const res = await fetch("/api/events", { headers: auth() });
      if (res.status === 401) { live.classList.remove("on"); return; }
      if (!res.ok) throw new Error("feed " + res.status);
      live.classList.add("on");
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (!block.includes("event: change") || !data) continue;
          const topics = JSON.parse(data.slice(6)).topics || [];
          if (topics.includes("requests")) updateRequestCount();
          if (current && current.topics.some((t) => topics.includes(t)) && !current.editing) current.render().catch(() => {});
        }
      }
    } catch (_) { /* retried below */ }
    live.classList.remove("on");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function download(format, conv) {
  const res = await fetch("/api/export?format=" + format + "&conv=" + encodeURIComponent(conv), { headers: auth() });
  if (!res.ok) { toast("export failed (" + res.status + ")", true); return; }
  const name = (res.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
  const link = h("a", { href: URL.createObjectURL(await res.blob()), download: name ? name[1] : "conversation." + format });
  document.body.append(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
}

async function updateRequestCount() {
  try {
    const requests = await api("requests");
    document.getElementById("request-count").textContent = requests.length ? String(requests.length) : "";
  } catch (_) { /* shown by the page itself */ }
}

// ---------- Pages ----------

views.home = { topics: ["home"], async render() {
  const [s, invite] = await Promise.all([api("status"), api("invite").catch((e) => "(" + e.message + ")")]);
  document.getElementById("who").textContent = s.name;
  myDID = s.id;
  const reach = s.reach || {};
  const stats = [
    ["friends", s.friends], ["connected", s.connected], ["people known", s.knownManifests], ["requests waiting", s.pendingRequests],
    ["manifest seq", s.manifestSeq], ["sessions opened", s.tcp.established], ["conversations", Object.values(s.conversations || {}).reduce((a, b) => a + b, 0)],
    ["guard blocked", (s.gossip || {}).disclosure_guard_blocked || 0],
  ];
  setMain(
    h("h1", {}, "Hello, " + s.name),
    h("div", { class: "card" },
      h("h2", {}, "Who I am"),
      h("div", { class: "row" }, h("span", { class: "mono", id: "my-did" }, s.id),
        h("button", { id: "copy-did", onclick: () => navigator.clipboard.writeText(s.id).then(() => toast("did:key copied"), () => toast("copy it by hand", true)) }, "Copy")),
      h("label", {}, "Invite (give it to a friend: kith connect …)"),
      h("div", { class: "row" }, h("span", { class: "mono", id: "invite" }, invite),
        h("button", { onclick: () => navigator.clipboard.writeText(invite).then(() => toast("invite copied"), () => toast("copy it by hand", true)) }, "Copy"))),
    h("div", { class: "card" },
      h("h2", {}, "Node"),
      h("p", {}, "Listening on ", h("span", { class: "mono" }, s.listen), s.udp ? [" and ", h("span", { class: "mono" }, s.udp)] : "",
        " · network ", h("b", {}, s.network), " · up ", Math.round(s.uptimeSeconds / 60), " min"),
      h("p", { id: "reach" }, "Reachability: ", h("span", { class: "pill " + (reach.reachability === "public" ? "ok" : "warn") }, reach.reachability || "unknown"),
        reach.observed ? [" seen at ", h("span", { class: "mono" }, reach.observed)] : "",
        reach.relays && reach.relays.length ? [" · reached through ", reach.relays.length, " relay(s)"] : "",
        s.dht ? [" · DHT ", s.dht.readOnly ? "read-only" : "on"] : " · DHT off"),
      h("div", { class: "stats" }, stats.map(([k, v]) => h("div", { class: "stat" }, h("b", {}, String(v)), k)))),
  );
} };

views.people = { topics: ["people"], async render() {
  const [graph, peers] = await Promise.all([api("people"), api("peers")]);
  const byID = Object.fromEntries(peers.map((p) => [p.id, p]));
  const names = Object.fromEntries(graph.people.map((p) => [p.id, p.name]));
  const friends = graph.people.filter((p) => p.hops === 1);
  const fof = graph.people.filter((p) => p.hops === 2);
  const row = (p) => {
    const peer = byID[p.id];
    return h("tr", { "data-did": p.id },
      h("td", {}, h("b", {}, p.name), h("div", { class: "mono muted" }, shortID(p.id))),
      h("td", {}, p.interests.join(", ")),
      h("td", {}, p.hops === 1 ? (peer && peer.connected ? h("span", { class: "pill ok" }, peer.session || "connected")
                                                         : h("span", { class: "pill" }, "last seen " + when(peer && peer.lastSeen)))
                               : ["through ", p.via.map((d) => names[d] || shortID(d)).join(", ")]),
      h("td", {}, p.flags.filter((f) => f !== "friend").map((f) => h("span", { class: "pill warn" }, f))));
  };
  const table = (list, empty) => list.length
    ? h("table", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "interests"), h("th", {}, "how"), h("th", {}, "")), list.map(row))
    : h("p", { class: "muted" }, empty);
  setMain(
    h("h1", {}, "People"),
    h("div", { class: "split" },
      h("div", {},
        h("div", { class: "card", id: "friends" }, h("h2", {}, "Friends (" + friends.length + ")"), table(friends, "No friends yet: kith connect DID@HOST:PORT, or give someone your invite.")),
        h("div", { class: "card", id: "fof" }, h("h2", {}, "Friends of friends (" + fof.length + ")"), table(fof, "Nobody two hops away yet."))),
      h("div", {}, h("h2", {}, "Your two-hop graph"), drawGraph(graph))));
} };

function drawGraph(graph) {
  const W = 480, H = 420, cx = W / 2, cy = H / 2;
  const pos = { [graph.me]: [cx, cy] };
  const ring = (list, r, offset) => list.forEach((p, i) => {
    const a = offset + (2 * Math.PI * i) / Math.max(list.length, 1);
    pos[p.id] = [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  });
  const friends = graph.people.filter((p) => p.hops === 1);
  ring(friends, 110, -Math.PI / 2);
  ring(graph.people.filter((p) => p.hops === 2), 185, -Math.PI / 2 + 0.35);
  const g = svg("svg", { class: "graph", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "friends and friends of friends" });
  for (const [a, b] of graph.edges) {
    if (!pos[a] || !pos[b]) continue;
    g.append(svg("line", { x1: pos[a][0], y1: pos[a][1], x2: pos[b][0], y2: pos[b][1], stroke: "#c9c6bd", "stroke-width": 1.5 }));
  }
  const dot = (id, name, color, r) => {
    if (!pos[id]) return;
    const [x, y] = pos[id];
    g.append(svg("circle", { cx: x, cy: y, r, fill: color }), svg("text", { x, y: y + r + 13, "text-anchor": "middle" }, name));
  };
  dot(graph.me, "me", "#2f6f5e", 13);
  for (const p of graph.people) if (p.hops === 1 || p.hops === 2) dot(p.id, p.name, p.hops === 1 ? "#5aa58c" : "#b9d6cb", p.hops === 1 ? 10 : 8);
  return g;
}

views.requests = { topics: ["requests"], async render() {
  const list = await api("requests");
  const card = (r) => h("div", { class: "card request", "data-did": r.id },
    h("div", { class: "row" }, h("b", {}, r.name || shortID(r.id)), h("span", { class: "pill" }, r.kind === "introduction" ? "introduction: your AI agreed" : "friend request"),
      r.match !== undefined && r.match !== null ? h("span", { class: "pill ok" }, "match " + Math.round(r.match * 100) + "%") : "",
      h("span", { class: "muted" }, when(r.receivedAt))),
    h("div", { class: "mono muted" }, r.id),
    r.interests.length ? h("p", {}, "Interests: " + r.interests.join(", ")) : "",
    r.reasons.length ? h("ul", {}, r.reasons.map((x) => h("li", {}, x))) : "",
    r.excerpt ? h("blockquote", { class: "excerpt" }, r.excerpt) : "",
    r.conversation ? h("p", {}, h("a", { href: "#/conversations/" + r.conversation }, "Read the conversation")) : "",
    h("div", { class: "row" },
      h("button", { class: "primary approve", onclick: (e) => act(e.target, async () => { toast((await api("accept", { did: r.id })).message); await views.requests.render(); }) }, "Approve"),
      h("button", { class: "decline", onclick: (e) => act(e.target, async () => { toast((await api("decline", { did: r.id })).message); await views.requests.render(); }) }, "Decline")));
  setMain(h("h1", {}, "Requests and introductions"),
    list.length ? list.map(card) : h("p", { class: "muted", id: "no-requests" }, "Nothing waits for you. Connections your AI agrees to appear here for you to approve."));
  document.getElementById("request-count").textContent = list.length ? String(list.length) : "";
} };

views.conversations = { topics: ["conversations"], async render(id) {
  if (id) return renderConversation(id);
  const list = await api("conversations");
  setMain(h("h1", {}, "Conversations"),
    list.length ? h("div", { class: "card" }, h("table", { id: "conversations" },
      h("tr", {}, h("th", {}, "with"), h("th", {}, "topic"), h("th", {}, "entries"), h("th", {}, "state"), h("th", {}, "updated")),
      list.map((c) => h("tr", {},
        h("td", {}, h("a", { href: "#/conversations/" + c.id }, c.name || shortID(c.with))),
        h("td", {}, c.topic), h("td", {}, String(c.entries)),
        h("td", {}, h("span", { class: "pill " + (c.state === "complete" ? "ok" : "warn") }, c.state)), h("td", {}, when(c.updatedAt))))))
      : h("p", { class: "muted" }, "No conversations yet: start one on Chat & meet."));
} };

async function renderConversation(id) {
  const c = await api("conversation", { conv: id });
  const badgeText = { valid: "valid: every signature, the chain and both seals check", incomplete: "incomplete: not closed and sealed by both yet", invalid: "invalid" };
  setMain(
    h("p", {}, h("a", { href: "#/conversations" }, "← all conversations")),
    h("h1", {}, "With " + (c.name || shortID(c.with)) + ": " + c.topic),
    h("div", { class: "card" },
      h("div", { class: "row" }, h("span", { class: "badge " + c.audit.status, id: "audit-badge", "data-status": c.audit.status }, badgeText[c.audit.status] || c.audit.status),
        h("button", { onclick: () => download("kithlog", c.id) }, "Export kithlog"),
        h("button", { onclick: () => download("md", c.id) }, "Export Markdown")),
      c.audit.problems.length ? h("ul", { id: "audit-problems" }, c.audit.problems.map((p) => h("li", {}, p))) : "",
      c.audit.notes.map((n) => h("p", { class: "muted" }, "note: " + n)),
      h("div", { class: "mono muted" }, c.id)),
    h("div", { class: "card", id: "transcript" }, c.entries.map((e) => h("div", { class: "turn" + (e.mine ? " mine" : ""), "data-seq": e.seq },
      h("div", { class: "meta" }, h("b", {}, e.mine ? "you" : (e.authorName || shortID(e.author))), " · ",
        h("span", { class: "producer" }, e.producer === "person" ? "written by the person" : e.producer === "node" ? "written by the node" : e.producer.startsWith("ai") ? "AI: " + e.producer.slice(4, -1) : e.producer),
        " · ", h("span", { class: "kind" }, e.kind), " · #", e.seq, " · ", when(e.ts)),
      h("div", { class: "text" }, e.text),
      e.disclosed.length ? h("div", { class: "disclosed" }, "drew on: ",
        e.disclosed.map((d) => d.text ? h("span", { class: "pill warn", title: d.hash }, d.text + " (" + d.visibility + ")") : h("span", { class: "pill", title: d.hash }, "a memory " + d.hash.slice(0, 8)))) : ""))));
}

views.chat = { topics: ["requests"], async render() {
  if (chatState.running) return;
  const [peers, suggestions] = await Promise.all([api("peers"), api("suggestions")]);
  const friends = peers.filter((p) => p.relationship === "friends");
  const select = h("select", { id: "chat-with" }, friends.map((p) => h("option", { value: p.id }, (p.name || "?") + " · " + shortID(p.id) + (p.connected ? "" : " (offline)"))));
  const topic = h("input", { id: "chat-topic", placeholder: "topic (optional)" });
  const turns = h("input", { id: "chat-turns", type: "number", min: 2, max: 200, value: 8 });
  setMain(
    h("h1", {}, "Chat & meet"),
    h("div", { class: "split" },
      h("div", { class: "card" }, h("h2", {}, "Talk to a friend's AI yourself"),
        friends.length ? [h("label", {}, "Friend"), select, h("label", {}, "Topic"), topic, h("label", {}, "Most turns (theirs may be fewer)"), turns,
          h("div", { class: "row" }, h("button", { class: "primary", id: "chat-start", onclick: () => startChat(select.value, topic.value, true, Number(turns.value)) }, "Start chat"),
            h("button", { id: "talk-start", onclick: () => startChat(select.value, topic.value, false, Number(turns.value)) }, "Let my AI talk"))]
          : h("p", { class: "muted" }, "Add a friend first."),
        h("div", { id: "chat-area" })),
      h("div", { class: "card", id: "suggestions" }, h("h2", {}, "Suggestions to meet"),
        suggestions.length ? suggestions.map((s) => h("div", { class: "row suggestion" }, h("b", {}, s.name), h("span", { class: "muted" }, "shares " + s.shared.join(", ")),
          h("button", { onclick: () => startChat(s.id, "meeting: " + s.shared.join(", "), false, 8) }, "Let my AI meet them")))
          : h("p", { class: "muted" }, "Your AI suggests friends of friends with interests like yours here (policy.meet: ask)."))));
} };

const chatState = { running: false, chat: null };

async function startChat(did, topic, human, turns) {
  const area = document.getElementById("chat-area") || document.getElementById("main");
  const log = h("div", { class: "chatlog", id: "chat-log" });
  const input = h("input", { id: "chat-input", placeholder: "your turn… (/propose, /accept, /decline, /close)", disabled: true });
  const send = h("button", { class: "primary", id: "chat-send", disabled: true }, "Send");
  area.replaceChildren(log, human ? h("div", { class: "row" }, input, send) : "");
  chatState.running = true;
  const say = async () => {
    const text = input.value.trim();
    if (!text || !chatState.chat) return;
    input.value = "";
    input.disabled = send.disabled = true;
    await post("/api/say", { chat: chatState.chat, say: text });
  };
  send.addEventListener("click", say);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") say(); });
  try {
    const res = await post("/api/" + (human ? "chat" : "talk"), { did, topic: topic || undefined, turns: turns || undefined });
    if (!res.ok) { const b = await res.json().catch(() => ({})); throw new Error(b.error || "the node refused"); }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const raw = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!raw.trim()) continue; // the server's heartbeat
        const line = JSON.parse(raw);
        if (line.chat) chatState.chat = line.chat;
        const ev = line.event;
        if (!ev) continue;
        if (ev.event === "entry") log.append(h("div", { class: "turn" + (ev.author === myDID ? " mine" : ""), "data-seq": ev.seq },
          h("div", { class: "meta" }, h("b", {}, ev.author === myDID ? "you" : "them"), " · ", h("span", { class: "kind" }, ev.kind)), h("div", { class: "text" }, ev.text)));
        else if (ev.event === "your-turn") { input.disabled = send.disabled = false; input.focus(); }
        else if (ev.event === "failed") log.append(h("p", { class: "field-error" }, ev.message));
        else if (ev.event === "ended") log.append(h("p", { class: "muted" }, ev.message || "ended; waiting for both seals…"));
        else if (ev.event === "complete") log.append(h("p", { class: "muted" }, "complete: sealed by both. ",
          h("a", { href: "#/conversations/" + ev.conv }, "Read and audit it")));
        else if (ev.event === "started") log.append(h("p", { class: "muted" }, "started: " + (ev.text || "")));
        log.scrollTop = log.scrollHeight;
      }
    }
  } catch (e) {
    toast(e.message, true);
  } finally {
    chatState.running = false;
    chatState.chat = null;
    input.disabled = send.disabled = true;
  }
}

views.identity = { topics: ["identity"], editing: false, async render() {
  const me = await api("identity");
  const profile = me.profile;
  const errors = h("div", { class: "field-error", id: "save-error" });
  const field = (key, label, value, area) => {
    const el = h(area ? "textarea" : "input", { id: "f-" + key, "data-field": key });
    el.value = value;
    el.addEventListener("input", changed);
    return [h("label", { for: "f-" + key }, label), el];
  };
  const memories = h("div", { id: "memories" });
  const addMemory = (m) => {
    const text = h("textarea", { class: "memory-text" }); text.value = m.text;
    const vis = h("select", { class: "memory-visibility" }, ["public", "friends", "private"].map((v) => h("option", { value: v, selected: v === m.visibility }, v)));
    const tags = h("input", { class: "memory-tags", placeholder: "tags, comma separated" }); tags.value = (m.tags || []).join(", ");
    const row = h("div", { class: "memory" }, h("div", {}, text, tags), vis, h("button", { class: "danger", onclick: () => { row.remove(); changed(); } }, "Remove"));
    for (const el of [text, vis, tags]) el.addEventListener(el.tagName === "SELECT" ? "change" : "input", changed);
    memories.append(row);
  };
  profile.memories.forEach(addMemory);
  const preview = h("div", { class: "preview", id: "preview" });
  const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
  const draft = () => ({
    name: document.getElementById("f-name").value, bio: document.getElementById("f-bio").value,
    interests: list(document.getElementById("f-interests").value), values: list(document.getElementById("f-values").value),
    style: document.getElementById("f-style").value,
    memories: [...memories.querySelectorAll(".memory")].map((r) => ({
      text: r.querySelector(".memory-text").value, visibility: r.querySelector(".memory-visibility").value, tags: list(r.querySelector(".memory-tags").value) })),
  });
  let timer = null;
  function changed() {
    views.identity.editing = true;
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 250);
  }
  async function refreshPreview() {
    try {
      const p = await api("preview", { profile: draft() });
      preview.replaceChildren(...p.audiences.map((a) => h("div", { class: "card audience", "data-audience": a.audience },
        h("h2", {}, a.audience),
        h("p", {}, a.profile ? "sees your name, bio and interests" : "does not see your profile"),
        h("p", {}, a.addresses ? "learns your addresses" : "does not learn your addresses"),
        h("div", {}, a.converses ? "your AI may tell it:" : "your AI does not talk with it"),
        a.converses ? (a.memories.length ? h("ul", {}, a.memories.map((m) => h("li", {}, m))) : h("p", { class: "muted" }, "no memories")) : "",
        a.notes.map((n) => h("p", { class: "muted" }, n)))));
      errors.textContent = "";
    } catch (e) { errors.textContent = e.message; }
  }
  const save = h("button", { class: "primary", id: "save-identity", onclick: (e) => act(e.target, async () => {
    for (const el of document.querySelectorAll(".invalid-field")) el.classList.remove("invalid-field");
    const r = await api("save-identity", { profile: draft() });
    if (!r.saved) {
      errors.textContent = (r.field ? r.field + ": " : "") + r.error;
      const m = (r.field || "").match(/^(\w+)(?:\[(\d+)\])?(?:\.(\w+))?/);
      let el = null;
      if (m && m[1] === "memories" && m[2] !== undefined) {
        const row = memories.querySelectorAll(".memory")[Number(m[2])];
        el = row && row.querySelector(".memory-" + (m[3] === "visibility" ? "visibility" : m[3] === "tags" ? "tags" : "text"));
      } else if (m) el = document.getElementById("f-" + m[1]);
      if (el) { el.classList.add("invalid-field"); el.focus(); }
      return;
    }
    errors.textContent = "";
    views.identity.editing = false;
    toast(r.changed ? "Saved: manifest re-signed (seq " + r.seq + ") and sent to friends" : "Saved: no public change (seq " + r.seq + ")");
  }) }, "Save and re-sign");
  setMain(
    h("h1", {}, "My identity"),
    h("p", { class: "muted" }, "Policy: converse with " + me.policy.converse + ", connections " + me.policy.connect + ", addresses to " + me.policy.addresses + ". Edit policy in identity.yaml."),
    h("div", { class: "stack" },
      h("div", { class: "card" },
        field("name", "Name", profile.name), field("bio", "Bio (public)", profile.bio, true),
        field("interests", "Interests (public, comma separated)", profile.interests.join(", ")),
        field("values", "Values (comma separated)", profile.values.join(", ")), field("style", "How you speak", profile.style, true),
        h("h2", {}, "Memories"), memories,
        h("button", { id: "add-memory", onclick: () => { addMemory({ text: "", visibility: "friends", tags: [] }); changed(); } }, "Add a memory"),
        h("div", { class: "row" }, save, h("button", { onclick: () => { views.identity.editing = false; views.identity.render(); } }, "Discard changes")), errors),
      h("div", {}, h("h2", {}, "Who sees what"), preview)));
  await refreshPreview();
} };

// ---------- Router ----------

async function route() {
  const [, page = "home", arg] = (location.hash || "#/home").replace(/^#\//, "/").split("/");
  const view = views[page] || views.home;
  if (current === views.identity && view !== views.identity) views.identity.editing = false;
  current = { topics: view.topics, get editing() { return view.editing; }, render: () => view.render(arg && decodeURIComponent(arg)) };
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === (views[page] ? page : "home"));
  try { await current.render(); } catch (e) { if (!(e instanceof APIError && e.message === "not signed in")) setMain(h("div", { class: "card field-error" }, e.message)); }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  await signIn();
  try { const s = await api("status"); myDID = s.id; document.getElementById("who").textContent = s.name; } catch (_) { /* signed out */ }
  await route();
  connectFeed();
  updateRequestCount();
});
