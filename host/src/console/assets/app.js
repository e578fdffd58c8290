// The Reprise console: a page over the host's own /v1 API, with the tenant's key.
// No build step and no library: pages are built as DOM nodes (never from HTML strings, so
// nothing an invocation holds is read as markup), and refreshed by polling.
"use strict";

const KEY = "reprise-key";
const REFRESH_MS = 2000;
const PAGE = 50;
const STATES = ["pending", "running", "suspended", "scheduled", "paused", "completed", "failed", "cancelled", "moved"];
const FINISHED = ["completed", "failed", "cancelled"];

let refresh = null; // what the current page redraws every REFRESH_MS
let generation = 0; // bumped at each navigation, so a late answer of a page left is dropped

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Calls the API with the key signed in; throws an ApiError with the host's message.
async function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem(KEY) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method: options.method || "GET", headers, body: options.body });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!response.ok) {
    const error = (body && body.error) || { code: "http_" + response.status, message: text || response.statusText };
    if (response.status === 401) signOut(error.message);
    throw new ApiError(response.status, error.code, error.message);
  }
  return body;
}

// Builds an element: h("a", {href: "#/x", class: "y"}, "text", child, ...).
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function badge(state) {
  return h("span", { class: "badge " + state, dataset: { state } }, state);
}

function invocationLink(id) {
  return h("a", { href: "#/invocations/" + id, class: "mono" }, id);
}

function time(rfc3339) {
  return rfc3339 ? rfc3339.replace("T", " ").replace("Z", "") : "";
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

// Replaces what `node` holds with `children` (nested lists flattened, nulls left out).
function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : String(c))));
}

function show(...nodes) {
  fill(document.getElementById("main"), ...nodes);
}

function problem(error) {
  return h("div", { class: "error", role: "alert" }, error.message || String(error));
}

// Signing in: the key is kept for this tab only (sessionStorage) and checked at once.
function signInPage(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  const input = h("input", { id: "key", type: "password", autocomplete: "off", placeholder: "rpk_…" });
  const error = h("div", { class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "signin", onsubmit: async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    try {
      await whoAmI();
      route();
    } catch (e) {
      sessionStorage.removeItem(KEY);
      error.textContent = e.code === "forbidden"
        ? "This is an admin key: sign in with a tenant's key to see its work."
        : e.message;
    }
  } },
    h("h1", {}, "Sign in"),
    h("p", { class: "note" }, "With one of your tenant's API keys (reprise key create --tenant NAME). The console shows that tenant's work only."),
    h("label", { for: "key" }, "API key"), input, error,
    h("button", { class: "primary", type: "submit", id: "signin" }, "Sign in"));
  show(form);
  input.focus();
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  refresh = null;
  signInPage(message);
}

async function whoAmI() {
  const stats = await api("/v1/stats");
  document.getElementById("who").textContent = "tenant " + stats.tenant;
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  return stats;
}

// --- Invocations -------------------------------------------------------------------------

function filterOf(query) {
  const terms = [];
  if (query.get("state")) terms.push("state=" + query.get("state"));
  if (query.get("function")) terms.push("function=" + query.get("function"));
  if (query.get("since")) terms.push("since=" + query.get("since"));
  return terms.join(" ");
}

async function invocationsPage(query, mine) {
  const form = h("form", { class: "filters", id: "filters", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ["state", "function", "since", "text"]) {
      const value = form.elements[name].value.trim();
      if (value) next.set(name, value);
    }
    location.hash = "#/invocations?" + next.toString();
  } },
    h("select", { name: "state", "aria-label": "state" }, h("option", { value: "" }, "any state"),
      STATES.map((s) => h("option", { value: s, selected: query.get("state") === s }, s))),
    h("input", { name: "function", placeholder: "function (name.function)", value: query.get("function") || "" }),
    h("select", { name: "since", "aria-label": "since" },
      [["", "any time"], ["15m", "last 15 min"], ["1h", "last hour"], ["1day", "last day"], ["7days", "last 7 days"]]
        .map(([v, label]) => h("option", { value: v, selected: (query.get("since") || "") === v }, label))),
    h("input", { name: "text", placeholder: "text in input", value: query.get("text") || "" }),
    h("button", { class: "primary", type: "submit" }, "Filter"));
  const counts = h("p", { class: "note", id: "counts" });
  const results = h("div", { id: "results" });
  show(h("h1", {}, "Invocations"), counts, form, results);

  const cursors = (query.get("before") || "").split(",").filter(Boolean);
  const draw = async () => {
    const params = new URLSearchParams({ limit: String(PAGE) });
    const filter = filterOf(query);
    if (filter) params.set("filter", filter);
    if (query.get("text")) params.set("text", query.get("text"));
    if (cursors.length) params.set("before", cursors[cursors.length - 1]);
    const [list, stats] = await Promise.all([api("/v1/invocations?" + params), api("/v1/stats")]);
    if (mine !== generation) return;
    counts.textContent = Object.entries(stats.invocations).map(([s, n]) => s + " " + n).join(" · ") || "no invocations yet";
    const rows = list.invocations.map((v) => h("tr", { dataset: { id: v.id } },
      h("td", {}, invocationLink(v.id)),
      h("td", {}, badge(v.state)),
      h("td", { class: "mono" }, v.function),
      h("td", {}, time(v.created_at)),
      h("td", {}, v.retrying ? "retrying" + (v.retrying.step !== undefined ? " step " + v.retrying.step : "") :
        v.waiting ? v.waiting.summary : v.error ? v.error.message.split("\n")[0] : "")));
    const pageLink = (list) => "#/invocations?" + new URLSearchParams({ ...Object.fromEntries(query), before: list.join(",") });
    const pager = h("div", { class: "pager" },
      cursors.length ? h("a", { href: pageLink(cursors.slice(0, -1)), id: "newer" }, "← Newer") : null,
      list.next ? h("a", { href: pageLink([...cursors, list.next]), id: "older" }, "Older →") : null,
      list.invocations.length === 0 ? h("span", { class: "note" }, list.next ? "none in this stretch; look older" : "none") : null);
    fill(results, 
      h("table", { id: "invocations" },
        h("thead", {}, h("tr", {}, ["id", "state", "function", "created", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows)),
      pager);
  };
  await draw();
  return draw;
}

// --- One invocation ------------------------------------------------------------------------

async function invocationPage(id, mine) {
  const path = "/v1/invocations/" + encodeURIComponent(id);
  const header = h("div");
  const body = h("div");
  show(header, body);
  let drawnState = null;

  const act = async (action, request) => {
    try {
      await api(path + "/" + action, { method: "POST", body: JSON.stringify(request || {}) });
      await draw();
    } catch (e) {
      header.append(problem(e));
    }
  };

  const draw = async () => {
    const [view, journal, logs, children] = await Promise.all([
      api(path),
      api(path + "/journal?history=true"),
      api(path + "/logs"),
      api("/v1/invocations?limit=100&parent=" + encodeURIComponent(id)),
    ]);
    if (mine !== generation) return;
    const unfinished = !FINISHED.includes(view.state);
    // The actions are drawn again only when the state changes: what is typed there stays.
    if (view.state !== drawnState) drawHeader(view, unfinished);
    drawBody(view, journal, logs, children, !unfinished || view.state === "paused");
    drawnState = view.state;
  };

  const drawHeader = (view, unfinished) => {
    const signalName = h("input", { placeholder: "signal name", id: "signal-name" });
    const signalData = h("input", { placeholder: "JSON payload (null)", id: "signal-data" });
    fill(header, 
      h("h1", {}, "Invocation ", h("span", { class: "mono", id: "invocation-id" }, view.id), " ", badge(view.state)),
      h("div", { class: "actions" },
        unfinished ? h("button", { class: "danger", id: "cancel", onclick: () => {
          if (confirm("Cancel " + view.id + " and its attached children?")) act("cancel");
        } }, "Cancel") : null,
        unfinished && view.state !== "paused" ? h("button", { id: "pause", onclick: () => act("pause") }, "Pause") : null,
        view.state === "paused" ? h("button", { id: "resume", onclick: () => act("resume") }, "Resume") : null,
        unfinished ? [signalName, signalData, h("button", { id: "signal", onclick: async () => {
          try {
            const data = signalData.value.trim() || "null";
            JSON.parse(data);
            await api(path + "/signals/" + encodeURIComponent(signalName.value.trim()), { method: "POST", body: data });
            await draw();
          } catch (e) {
            header.append(problem(e));
          }
        } }, "Send signal")] : null));
  };

  const drawBody = (view, journal, logs, children, rewindable) => {
    const details = [
      ["function", h("span", { class: "mono" }, view.function)],
      ["component", h("span", { class: "mono" }, view.component.slice(0, 12))],
      ["parent", view.parent ? [invocationLink(view.parent), view.detached ? " (detached)" : ""] : "—"],
      ["runs", view.attempts],
      ["created", time(view.created_at)],
      ["updated", time(view.updated_at)],
      ["finished", time(view.finished_at) || "—"],
    ];
    if (view.waiting) details.push(["waits for", h("span", { id: "waiting" }, view.waiting.summary)]);
    if (view.retrying) details.push(["retrying", h("span", { id: "retrying" },
      (view.retrying.step !== undefined ? "step " + view.retrying.step : "the function") + ": " +
      view.retrying.attempts + " attempts since " + time(view.retrying.since) +
      (view.retrying.next_at ? ", next at " + time(view.retrying.next_at) : ""))]);
    if (view.moved) details.push(["moved", view.moved.phase + " to " + view.moved.to]);

    let previous = Date.parse(view.created_at);
    const durations = journal.steps.map((s) => {
      const at = Date.parse(s.recorded_at);
      const ms = Math.max(0, at - previous);
      previous = at;
      return ms;
    });
    const longest = Math.max(1, ...durations);
    const stepRows = journal.steps.map((s, i) => h("tr", { dataset: { seq: s.seq } },
      h("td", { class: "num" }, s.seq),
      h("td", { class: "kind" }, s.kind),
      h("td", { class: "mono" }, s.request),
      h("td", {}, s.outcome),
      h("td", { class: "num" }, s.attempts),
      h("td", { class: "num" }, durations[i] + " ms ", h("span", { class: "bar", style: "width:" + Math.round(60 * durations[i] / longest) + "px" })),
      h("td", {}, rewindable ? h("button", { class: "rewind", onclick: () => {
        if (confirm("Run " + view.id + " again from step " + s.seq + "?")) act("rewind", { to_step: s.seq });
      } }, "Rewind here") : null)));
    if (view.waiting || view.retrying) {
      stepRows.push(h("tr", { class: "pending" },
        h("td", { class: "num" }, journal.steps.length), h("td", { class: "kind" }, view.retrying ? "retry" : "await"),
        h("td", { colspan: 5 }, view.retrying ? "retrying, next at " + time(view.retrying.next_at) : view.waiting.summary)));
    }
    const dropped = (journal.history || []).flatMap((event) => (event.dropped || []).map((s) =>
      h("tr", { class: "dropped" }, h("td", { class: "num" }, s.seq), h("td", { class: "kind" }, s.kind),
        h("td", { class: "mono" }, s.request), h("td", {}, s.outcome), h("td", { class: "num" }, s.attempts),
        h("td", {}, "rewound " + time(event.at)), h("td"))));

    fill(body, 
      h("div", { class: "grid" }, details.flatMap(([k, v]) => [h("div", {}, k), h("div", {}, v)])),
      h("h2", {}, "Input"), h("pre", { id: "input" }, json(view.input)),
      view.output !== null && view.output !== undefined ? [h("h2", {}, "Output"), h("pre", { id: "output" }, json(view.output))] : null,
      view.error ? [h("h2", {}, "Error"), h("pre", { id: "error", class: "error" }, view.error.kind + ": " + view.error.message)] : null,
      h("h2", {}, "Journal (" + journal.steps.length + " steps" + (journal.next !== undefined ? ", first page" : "") + ")"),
      h("table", { class: "timeline", id: "timeline" },
        h("thead", {}, h("tr", {}, ["step", "kind", "request", "outcome", "attempts", "took", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, stepRows, dropped)),
      children.invocations.length ? [h("h2", {}, "Children"), h("table", { id: "children" },
        h("tbody", {}, children.invocations.map((c) => h("tr", {},
          h("td", {}, invocationLink(c.id)), h("td", {}, badge(c.state)), h("td", { class: "mono" }, c.function),
          h("td", {}, time(c.created_at))))))] : null,
      h("h2", {}, "Log"),
      logs.lines.length ? h("pre", { id: "logs" }, logs.lines.map((l) =>
        h("div", { class: "log-" + l.stream }, time(l.at) + "  " + (l.level || l.stream).padEnd(6) + " " + l.text)))
        : h("p", { class: "note", id: "logs" }, "Nothing logged."));
  };
  await draw();
  // A finished one changes no more (but for a rewind, which redraws itself).
  return async () => { if (!FINISHED.includes(drawnState)) await draw(); };
}

// --- Deployments, destinations, schedules --------------------------------------------------

async function deploymentsPage(name, mine) {
  if (name) {
    const list = await api("/v1/deployments/" + encodeURIComponent(name) + "/versions");
    if (mine !== generation) return null;
    show(h("h1", {}, "Deployment ", h("span", { class: "mono" }, name)),
      h("table", { id: "versions" },
        h("thead", {}, h("tr", {}, ["version", "component", "functions", "deployed", "unfinished", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, list.versions.map((v) => h("tr", {},
          h("td", { class: "num" }, v.version ?? "—"), h("td", { class: "mono" }, v.component.slice(0, 12)),
          h("td", { class: "mono" }, (v.functions || []).join(", ")), h("td", {}, time(v.deployed_at)),
          h("td", { class: "num" }, v.unfinished), h("td", {}, v.current ? "current" : ""))))));
    return null;
  }
  const list = await api("/v1/deployments");
  if (mine !== generation) return null;
  show(h("h1", {}, "Deployments"),
    list.deployments.length === 0 ? h("p", { class: "note" }, "Nothing deployed yet: reprise deploy NAME FILE.wasm") :
    h("table", { id: "deployments" },
      h("thead", {}, h("tr", {}, ["name", "version", "component", "functions", "deployed"].map((c) => h("th", {}, c)))),
      h("tbody", {}, list.deployments.map((d) => h("tr", {},
        h("td", {}, h("a", { href: "#/deployments/" + encodeURIComponent(d.name) }, d.name)),
        h("td", { class: "num" }, d.version), h("td", { class: "mono" }, d.component.slice(0, 12)),
        h("td", { class: "mono" }, d.functions.map((f) => d.functions.length > 1 ? d.name + "." + f : d.name).join(", ")),
        h("td", {}, time(d.deployed_at)))))));
  return null;
}

async function destinationsPage(mine) {
  const table = h("div");
  show(h("h1", {}, "Destinations"),
    h("p", { class: "note" }, "Where your functions' HTTP requests go: each host's adaptive concurrency limit, requests in flight and queued, and its circuit breaker."),
    table);
  const draw = async () => {
    const list = await api("/v1/destinations");
    if (mine !== generation) return;
    fill(table, list.destinations.length === 0 ? h("p", { class: "note" }, "No request sent yet.") :
      h("table", { id: "destinations" },
        h("thead", {}, h("tr", {}, ["destination", "limit", "in flight", "queued", "breaker"].map((c) => h("th", {}, c)))),
        h("tbody", {}, list.destinations.map((d) => h("tr", {},
          h("td", { class: "mono" }, d.destination), h("td", { class: "num" }, d.limit.toFixed(1)),
          h("td", { class: "num" }, d.in_flight), h("td", { class: "num" }, d.queued), h("td", {}, badge(d.breaker)))))));
  };
  await draw();
  return draw;
}

async function schedulesPage(mine) {
  const list = await api("/v1/schedules");
  if (mine !== generation) return null;
  show(h("h1", {}, "Schedules"),
    list.schedules.length === 0 ? h("p", { class: "note" }, "No schedules: reprise schedule create NAME --cron EXPR TARGET") :
    h("table", { id: "schedules" },
      h("thead", {}, h("tr", {}, ["name", "cron", "zone", "function", "state", "next", "fired", "last"].map((c) => h("th", {}, c)))),
      h("tbody", {}, list.schedules.map((s) => h("tr", {},
        h("td", {}, s.name), h("td", { class: "mono" }, s.cron), h("td", {}, s.tz), h("td", { class: "mono" }, s.function),
        h("td", {}, badge(s.state)), h("td", {}, time(s.next)), h("td", { class: "num" }, s.fired),
        h("td", {}, s.last_invocation ? invocationLink(s.last_invocation) : "—"))))));
  return null;
}

// --- Routing -----------------------------------------------------------------------------

async function route() {
  if (!sessionStorage.getItem(KEY)) return signInPage();
  const mine = ++generation;
  refresh = null;
  const hash = location.hash.replace(/^#\/?/, "") || "invocations";
  const [path, search] = hash.split("?");
  const [page, id] = path.split("/").map(decodeURIComponent);
  const query = new URLSearchParams(search || "");
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.dataset.page === page);
  try {
    if (document.getElementById("nav").hidden) await whoAmI();
    let redraw = null;
    if (page === "invocations" && id) redraw = await invocationPage(id, mine);
    else if (page === "deployments") redraw = await deploymentsPage(id, mine);
    else if (page === "destinations") redraw = await destinationsPage(mine);
    else if (page === "schedules") redraw = await schedulesPage(mine);
    else redraw = await invocationsPage(query, mine);
    if (mine === generation) refresh = redraw;
  } catch (e) {
    if (mine === generation && e.status !== 401) show(problem(e));
  }
}

setInterval(async () => {
  if (!refresh || document.visibilityState !== "visible") return;
  const mine = generation;
  try { await refresh(); } catch (e) { if (mine === generation && e.status !== 401) show(problem(e)); }
}, REFRESH_MS);

document.getElementById("signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
route();
