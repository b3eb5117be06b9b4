// baton web console: polls this node's JSON API (the same paths batonctl reads) and draws it.
// A peer's state comes through this node (/peer?name=N&path=/units); commands go to this node only.
"use strict";

const POLL_MS = 1000;          // group, units, counters
const EVENTS_POLL_MS = 2000;
const HISTORY = 120;           // samples kept per counter (2 minutes at 1 s)
const MAX_PLOTS = 24;
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];
const NO_OWNER = "#e0e0e0";

const $ = (id) => document.getElementById(id);
const state = {
  node: "",            // "" = this node; else a peer's name
  self: null,          // this node's entry in /consoles
  roles: [],
  colours: new Map(),  // owner address -> colour, stable for the page's life
  history: new Map(),  // counter path -> [{t, v}]
  lastEventSeq: 0,
  events: [],
  consoles: [],        // /consoles: this node and its peers
};

// ---- fetching ----------------------------------------------------------------------------------

function url(path, query) {
  const q = new URLSearchParams(query || {});
  if (state.node) {
    q.set("name", state.node);
    q.set("path", path);
    return "/peer?" + q.toString();
  }
  const s = q.toString();
  return s ? path + "?" + s : path;
}

// A console with TLS (or a token) answers 401 to a call without a client certificate or the
// token: the page asks for the token once, keeps it for this tab (sessionStorage, gone when the
// tab closes) and sends it as "Authorization: Bearer". Several calls answered 401 at once share
// one question; a cancelled question is not asked again until the page is reloaded.
const TOKEN_KEY = "baton-console-token";
let tokenQuestion = null;
let tokenDeclined = false;

function withToken(init) {
  const t = sessionStorage.getItem(TOKEN_KEY);
  const headers = Object.assign({}, (init && init.headers) || {});
  if (t) headers["Authorization"] = "Bearer " + t;
  return Object.assign({cache: "no-store"}, init || {}, {headers});
}

function askToken() {
  if (tokenDeclined) return Promise.resolve(false);
  if (!tokenQuestion) {
    tokenQuestion = new Promise((resolve) => setTimeout(() => {
      const t = window.prompt("This console needs its token (the file named by console_auth.token_file in the node's policy):");
      tokenQuestion = null;
      if (t && t.trim()) {
        sessionStorage.setItem(TOKEN_KEY, t.trim());
        resolve(true);
      } else {
        tokenDeclined = true;
        resolve(false);
      }
    }, 0));
  }
  return tokenQuestion;
}

async function api(path, init) {
  const sent = sessionStorage.getItem(TOKEN_KEY);
  const r = await fetch(path, withToken(init));
  if (r.status !== 401) return r;
  if (sent && sessionStorage.getItem(TOKEN_KEY) === sent) sessionStorage.removeItem(TOKEN_KEY);  // refused
  if (sessionStorage.getItem(TOKEN_KEY) || await askToken()) return fetch(path, withToken(init));
  return r;
}

async function getJSON(path, query) {
  const r = await api(url(path, query));
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch (e) { body = {error: text}; }
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (body.error || text));
  return body;
}

function setStatus(text, bad) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("bad", !!bad);
}

// ---- small DOM helpers -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function show(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function fillFacts(dl, facts) {
  dl.replaceChildren();
  for (const [k, v] of facts) dl.append(el("dt", {text: k}), el("dd", {text: show(v)}));
}

// rows: array of objects; columns: the keys to show (default: every key of the first rows).
function fillTable(table, rows, columns, rowClass) {
  table.replaceChildren();
  if (!rows || rows.length === 0) {
    table.append(el("tr", {}, el("td", {class: "empty", text: "none"})));
    return;
  }
  if (!columns) {
    columns = [];
    for (const r of rows.slice(0, 20))
      for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  }
  table.append(el("tr", {}, ...columns.map((c) => el("th", {text: c}))));
  for (const r of rows) {
    const tr = el("tr", rowClass ? {class: rowClass(r)} : {}, ...columns.map((c) => el("td", {text: show(r[c])})));
    table.append(tr);
  }
}

// A role's status, whatever its shape: scalars as facts, arrays of objects as tables, objects
// (counter groups) as facts with dotted names.
function renderStatus(container, status) {
  const facts = [];
  const tables = [];
  const walk = (prefix, v) => {
    if (Array.isArray(v)) {
      if (v.length && typeof v[0] === "object") tables.push([prefix, v]); else facts.push([prefix, v]);
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(prefix ? prefix + "." + k : k, x);
    } else {
      facts.push([prefix, v]);
    }
  };
  walk("", status);
  const dl = el("dl", {class: "facts"});
  fillFacts(dl, facts);
  container.append(dl);
  for (const [name, rows] of tables) {
    const t = el("table");
    fillTable(t, rows.slice(0, 200));
    container.append(el("h3", {text: name + " (" + rows.length + ")"}), t);
  }
}

// ---- the role panels: one row per role, keyed by the role's name --------------------------------
// Each row says which path feeds the panel and how to draw it. A role without a row gets the
// generic status view of "/<role>".
const ROLE_PANELS = {
  cluster: {title: "Cluster (document 004)", path: "/cluster",
            note: "traffic mode, services and the flows this member carries"},
  slr: {title: "Service level routing (document 001)", path: "/slr",
        note: "the SLR table: per virtual host the next levels, expected shares and choices"},
  host_agent: {title: "Host agent (document 001)", path: "/slr"},
  replica: {title: "Replica selection (document 002)", path: "/replicas"},
  pep: {title: "PEP (document 003)", path: "/pep", note: "backbones (TLS), spoofed connections (compression), CT and NR by reason"},
  rim: {title: "Rim (document 000)", path: "/rim",
        note: "members, flows and their paths, hand-offs; on the group's master the management object's flows, hosts and decisions with their reasons"},
};

async function refreshRoles() {
  const box = $("role-panels");
  const parts = [];
  for (const role of state.roles) {
    const row = ROLE_PANELS[role] || {title: role, path: "/" + role};
    const div = el("div", {class: "role", "data-role": role});
    div.append(el("h3", {text: row.title}));
    if (row.note) div.append(el("div", {class: "detail", text: row.note}));
    if (row.path) {
      try {
        renderStatus(div, await getJSON(row.path));
      } catch (e) {
        div.append(el("div", {class: "empty", text: String(e.message)}));
      }
    }
    parts.push(div);
  }
  if (parts.length === 0) parts.push(el("div", {class: "empty", text: "this node plays no role with a panel"}));
  box.replaceChildren(...parts);
}

// ---- node, group, events -----------------------------------------------------------------------

async function refreshNode() {
  const actors = await getJSON("/actors");
  const policy = await getJSON("/policy");
  state.roles = actors.roles || [];
  $("node-name").textContent = actors.node + (state.node ? " (through " + state.self.name + ")" : "");
  const sections = Object.keys(policy).filter((k) => !["identity", "roles", "console", "peers"].includes(k));
  fillFacts($("node-facts"), [
    ["roles", state.roles.join(", ")],
    ["address", policy.identity && policy.identity.address],
    ["console", policy.console],
    ["peers", (policy.peers || []).map((p) => p.name).join(", ") || "none"],
    ["policy sections", sections.join(", ")],
    ["rules", (policy.rules || []).length],
    ["running actors", actors.running_actors],
  ]);
  fillTable($("actors-table"), actors.actors, ["name", "id", "purpose", "listening"]);
  const remote = !!state.node;
  $("actions-note").textContent = remote ? "act on " + state.self.name + " only: open " + state.node + "'s own console to act on it" : "";
  for (const b of document.querySelectorAll("#actions button[data-path]")) {
    const role = b.getAttribute("data-role");
    b.disabled = remote || (role && !state.roles.includes(role));
  }
}

async function refreshGroup() {
  const g = await getJSON("/group");
  fillFacts($("group-facts"), [
    ["self", g.self + " (" + g.identity + ")"],
    ["phase", g.phase],
    ["master", g.master || "none"],
    ["keepalive n (interval)", g.keepalive_n],
    ["loss estimate", g.loss_estimate],
    ["quorum", g.quorum],
    ["units owned here", g.owned_units + " of " + g.work_units],
  ]);
  fillTable($("members-table"), (g.members || []).map((m) => ({...m, master: m.address === g.master ? "master" : ""})),
            ["address", "identity", "load", "master"]);
  fillTable($("peers-table"), g.peers, ["name", "address", "port", "linked", "sent", "received"]);
  return g;
}

// Each node's own /group, fetched through this node whatever node the page shows: one table
// for the whole group (a dead member shows why it did not answer).
async function refreshNodes() {
  // One at a time: a hung peer holds one of this node's console threads, not all of them.
  const rows = [];
  for (const c of state.consoles) rows.push(await (async () => {
    const path = c.self ? "/group" : "/peer?" + new URLSearchParams({name: c.name, path: "/group"});
    try {
      const r = await api(path);
      const g = await r.json();
      if (!r.ok) throw new Error(g.error || String(r.status));
      return {node: c.name, state: "up", phase: g.phase, master: g.master, units: g.owned_units,
              members: (g.members || []).length, "loss est.": g.loss_estimate, "keepalive n": g.keepalive_n};
    } catch (e) {
      return {node: c.name, state: c.console || c.self ? "unreachable" : "no console address",
              why: e.message};
    }
  })());
  fillTable($("nodes-table"), rows, ["node", "state", "phase", "master", "units", "members", "loss est.", "keepalive n", "why"],
            (r) => "node-" + r.state.replace(/ /g, "-"));
}

async function refreshEvents() {
  const fresh = await getJSON("/events", state.lastEventSeq ? {after: state.lastEventSeq} : {});
  for (const e of fresh) state.lastEventSeq = Math.max(state.lastEventSeq, e.seq || 0);
  state.events = state.events.concat(fresh).slice(-200);
  const rows = state.events.slice(-40).reverse().map((e) => {
    const rest = {...e};
    for (const k of ["seq", "ts_ms", "level", "event"]) delete rest[k];
    return {seq: e.seq, time: e.ts_ms ? new Date(e.ts_ms).toISOString().slice(11, 23) : "",
            level: e.level, event: e.event, reason: rest.reason || "",
            details: Object.entries(rest).filter(([k]) => k !== "reason").map(([k, v]) => k + "=" + v).join(" ")};
  });
  fillTable($("events-table"), rows, ["seq", "time", "level", "event", "reason", "details"],
            (r) => "sev-" + r.level);
  const refused = state.events.filter((e) => e.event === "peer_refused").slice(-20).reverse();
  fillTable($("refused-table"), refused.map((e) => ({peer: e.peer, stage: e.stage, reason: e.reason})),
            ["peer", "stage", "reason"]);
}

// ---- the work-unit grid ------------------------------------------------------------------------

function colourOf(owner) {
  if (!owner) return NO_OWNER;
  if (!state.colours.has(owner)) state.colours.set(owner, PALETTE[state.colours.size % PALETTE.length]);
  return state.colours.get(owner);
}

function refreshUnits(units, group) {
  const grid = $("unit-grid");
  if (grid.children.length !== units.length) {
    grid.replaceChildren(...units.map(() => el("div")));
  }
  // Colours in the order owners first appear, sorted by address, so a reload gives the same map.
  for (const o of [...new Set(units.map((u) => u.owner).filter(Boolean))].sort()) colourOf(o);
  const byOwner = {}, byColour = {};
  let flows = 0;
  units.forEach((u, i) => {
    const cell = grid.children[i];
    const colour = colourOf(u.owner);
    cell.style.background = colour;
    cell.className = (u.mine ? "mine " : "") + (u.flows ? "flows" : "");
    cell.title = "unit " + u.unit + "\nowner " + (u.owner || "none") + "\nbackup " + (u.backup || "none") +
                 (u.flows !== undefined ? "\nflows " + u.flows : "");
    byOwner[u.owner || "none"] = (byOwner[u.owner || "none"] || 0) + 1;
    byColour[colour] = (byColour[colour] || 0) + 1;
    flows += u.flows || 0;
  });
  // For tests and scripts: what the grid shows, read from the DOM.
  grid.setAttribute("data-owner-counts", JSON.stringify(byOwner));
  grid.setAttribute("data-colour-counts", JSON.stringify(byColour));
  grid.setAttribute("data-units", String(units.length));
  const names = {};
  for (const m of (group && group.members) || []) names[m.address] = m.identity;
  $("units-legend").replaceChildren(...Object.keys(byOwner).sort().map((o) => {
    const swatch = el("i");
    swatch.style.background = o === "none" ? NO_OWNER : colourOf(o);  // CSSOM: the CSP allows no inline style
    return el("span", {}, swatch, (names[o] ? names[o] + " " : "") + o + ": " + byOwner[o] + " units");
  }));
  $("units-summary").textContent = units.length + " units, " + Object.keys(byOwner).length + " owner(s)" +
    (units.some((u) => u.flows !== undefined) ? ", " + flows + " flows" : "");
}

$("unit-grid").addEventListener("mouseover", (ev) => {
  if (ev.target.parentElement === $("unit-grid")) $("unit-detail").textContent = ev.target.title.replace(/\n/g, " · ");
});

// ---- counters as tiny plots --------------------------------------------------------------------

function flatten(prefix, v, out) {
  if (typeof v === "number") out[prefix] = v;
  else if (Array.isArray(v)) v.forEach((x, i) => flatten(prefix + "[" + (x && x.name !== undefined ? x.name : i) + "]", x, out));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) if (k !== "name") flatten(prefix ? prefix + "." + k : k, x, out);
  return out;
}

function drawPlot(canvas, samples) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    rates.push(dt > 0 ? Math.max(0, samples[i].v - samples[i - 1].v) / dt : 0);
  }
  const top = Math.max(1, ...rates);
  ctx.strokeStyle = "#d9d9d2";
  ctx.beginPath(); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
  ctx.strokeStyle = "#1f77b4";
  ctx.beginPath();
  rates.forEach((r, i) => {
    const x = w - (rates.length - 1 - i) * (w / (HISTORY - 1));
    const y = h - 1 - (r / top) * (h - 3);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  return rates.length ? rates[rates.length - 1] : 0;
}

function refreshCounters(counters) {
  const now = Date.now();
  const flat = flatten("", counters, {});
  for (const [k, v] of Object.entries(flat)) {
    const h = state.history.get(k) || [];
    h.push({t: now, v});
    if (h.length > HISTORY) h.shift();
    state.history.set(k, h);
  }
  let filter;
  try { filter = new RegExp($("counter-filter").value, "i"); } catch (e) { filter = /packets/; }
  // The counters that moved come first; at most MAX_PLOTS.
  const keys = [...state.history.keys()].filter((k) => filter.test(k) && k in flat);
  const moved = (k) => { const h = state.history.get(k); return h[h.length - 1].v - h[0].v; };
  keys.sort((a, b) => (moved(b) > 0) - (moved(a) > 0) || a.localeCompare(b));
  const box = $("plots");
  const shown = keys.slice(0, MAX_PLOTS);
  const existing = new Map([...box.children].map((c) => [c.getAttribute("data-counter"), c]));
  const plots = shown.map((k) => {
    let p = existing.get(k);
    if (!p) {
      p = el("div", {class: "plot", "data-counter": k}, el("div", {class: "name", title: k, text: k}),
             el("canvas", {width: 200, height: 36}), el("div", {class: "value"}));
    }
    const rate = drawPlot(p.querySelector("canvas"), state.history.get(k));
    p.querySelector(".value").textContent = "total " + flat[k] + " · " + rate.toFixed(rate < 10 ? 1 : 0) + "/s";
    return p;
  });
  box.replaceChildren(...plots);
}

// ---- actions -----------------------------------------------------------------------------------

for (const b of document.querySelectorAll("#actions button[data-path]")) {
  b.addEventListener("click", async () => {
    if (!window.confirm(b.getAttribute("data-confirm"))) return;
    const out = $("action-result");
    out.textContent = "POST " + b.getAttribute("data-path") + " …";
    try {
      const r = await api(b.getAttribute("data-path"), {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
      out.textContent = "POST " + b.getAttribute("data-path") + ": " + r.status + "\n" + await r.text();
    } catch (e) {
      out.textContent = "POST " + b.getAttribute("data-path") + " failed: " + e.message;
    }
  });
}

// Move one unit: the master moves it with its state (document 004's de-assign). Asked of this
// node: a node that is not the master answers 409 naming the master.
$("act-move").addEventListener("click", async () => {
  const unit = $("move-unit").value.trim(), to = $("move-to").value.trim();
  const out = $("action-result");
  if (!/^[0-9]+$/.test(unit) || !to) {
    out.textContent = "move unit: give a unit number and a member (name or address)";
    return;
  }
  if (!window.confirm("Move work unit " + unit + " to " + to + "? Its flows' state goes with it.")) return;
  const path = "/group/move?" + new URLSearchParams({unit, to}).toString();
  out.textContent = "POST " + path + " …";
  try {
    const r = await api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
    out.textContent = "POST " + path + ": " + r.status + "\n" + await r.text();
  } catch (e) {
    out.textContent = "POST " + path + " failed: " + e.message;
  }
});

// ---- the node switcher and the loops -----------------------------------------------------------

async function loadConsoles() {
  const r = await api("/consoles");  // always this node's list
  if (!r.ok) throw new Error("/consoles: " + r.status);
  const list = await r.json();
  state.consoles = list;
  const select = $("node-select");
  select.replaceChildren();
  $("member-names").replaceChildren(...list.map((c) => el("option", {value: c.name})));
  for (const c of list) {
    if (c.self) state.self = c;
    const o = el("option", {value: c.self ? "" : c.name,
                            text: c.name + " " + (c.self ? "(this node)" : c.console ? "(via this node)" : "(no console address)")});
    if (!c.self && !c.console) o.disabled = true;
    select.append(o);
  }
  const wanted = new URLSearchParams(location.search).get("node") || "";
  select.value = wanted;
  state.node = select.value;
}

$("node-select").addEventListener("change", () => {
  const q = new URLSearchParams(location.search);
  if ($("node-select").value) q.set("node", $("node-select").value); else q.delete("node");
  location.search = q.toString();  // a fresh page for that node: history and colours start over
});

let ticks = 0;
async function poll() {
  try {
    if (ticks % 5 === 0) await refreshNode();
    const group = await refreshGroup();
    refreshUnits(await getJSON("/units"), group);
    refreshCounters(await getJSON("/counters"));
    if (ticks % 3 === 0) await refreshRoles();
    setStatus((state.node || (state.self ? state.self.name : "")) + " · updated " + new Date().toISOString().slice(11, 19));
    document.body.setAttribute("data-updates", String(++ticks));
  } catch (e) {
    setStatus(e.message, true);
    document.body.setAttribute("data-last-error", e.message);
  }
  setTimeout(poll, POLL_MS);
}

async function pollNodes() {
  try { await refreshNodes(); } catch (e) { setStatus(e.message, true); }
  setTimeout(pollNodes, 2 * POLL_MS);
}

async function pollEvents() {
  try { await refreshEvents(); } catch (e) { setStatus(e.message, true); }
  setTimeout(pollEvents, EVENTS_POLL_MS);
}

loadConsoles().catch((e) => setStatus(e.message, true)).finally(() => { poll(); pollEvents(); pollNodes(); });
