#include "synergy_tokend/status_page.hpp"

#include <boost/beast/http/field.hpp>

#include "synergy_tokend/digest.hpp"

namespace synergy_tokend {

namespace http = boost::beast::http;

namespace {

// The page's style: system fonts only, nothing loaded.
constexpr std::string_view style = R"css(
:root { color-scheme: light; --muted: #5b6470; --line: #d8dde3; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #16191d; background: #f6f7f9; }
header, main, footer { max-width: 78rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1rem; }
h1 { font-size: 1.4rem; margin: 0.4rem 0; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 0.5rem; }
.summary { margin: 0.3rem 0; padding: 0.45rem 0.7rem; border-radius: 4px; background: #e8f0fe; }
.summary.error { background: #fde8e8; color: #8a1c1c; font-weight: 600; }
body.stale main { opacity: 0.55; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
caption { text-align: left; color: var(--muted); padding: 0.3rem 0; caption-side: bottom; }
th, td { text-align: left; vertical-align: top; padding: 0.45rem 0.6rem;
         border-bottom: 1px solid var(--line); }
thead th { background: #eef1f4; font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num.bad { color: #b42318; font-weight: 600; }
td.error { color: #8a1c1c; max-width: 22rem; overflow-wrap: anywhere; }
.sub { color: var(--muted); font-size: 0.85em; font-weight: normal; }
td time { white-space: nowrap; }
.muted { color: var(--muted); }
.tag { margin-left: 0.4em; padding: 0 0.35em; border: 1px solid var(--line); border-radius: 3px;
       font-size: 0.8em; color: var(--muted); }
.state { display: inline-block; padding: 0.05rem 0.45rem; border-radius: 3px; font-weight: 600; }
.state-fresh { background: #dcfce7; color: #14532d; }
.state-refreshing { background: #dbeafe; color: #1e3a8a; }
.state-stale { background: #fef3c7; color: #78350f; }
.state-pending, .state-other { background: #e5e7eb; color: #374151; }
.state-expired, .state-failed { background: #fee2e2; color: #7f1d1d; }
.bar { position: relative; height: 0.8rem; min-width: 11rem; margin: 0.3rem 0.2rem 0.2rem;
       background: #e5e7eb; border-radius: 2px; }
.bar .used { position: absolute; left: 0; top: 0; bottom: 0; background: #bfdbfe; }
.mark, .key { display: inline-block; width: 3px; background: #111827; }
.bar .mark { position: absolute; top: -0.2rem; bottom: -0.2rem; margin-left: -1px; }
.key { height: 0.9em; vertical-align: middle; margin: 0 0.3em 0 0.9em; }
.now { background: #111827; }
.refresh { background: #d97706; }
.expiry { background: #dc2626; }
.bar .expiry { left: 100%; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1.2rem; margin: 0;
     padding: 0.7rem; background: #fff; border: 1px solid var(--line); }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 0 1.5rem; }
footer { color: var(--muted); font-size: 0.85em; padding-bottom: 1.5rem; }
)css";

// The page's script. Every string from /status goes in as text (textContent, attributes), never
// as markup; styles are set through the CSSOM, which the policy allows.
constexpr std::string_view script = R"js(
"use strict";
(() => {
  const PERIOD_MS = 5000;
  const TIMEOUT_MS = 4000;
  const STATES = ["pending", "fresh", "refreshing", "stale", "expired", "failed"];
  const byId = (id) => document.getElementById(id);
  let lastGood = null;

  function node(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  function epochMs(text) {
    if (typeof text !== "string") return null;
    const v = Date.parse(text);
    return Number.isFinite(v) ? v : null;
  }

  function duration(ms) {
    const s = Math.round(Math.abs(ms) / 1000);
    if (s < 120) return s + " s";
    if (s < 7200) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 172800) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function relative(at, now) {
    return at >= now ? "in " + duration(at - now) : duration(now - at) + " ago";
  }

  function timeCell(text, now) {
    const td = node("td");
    const at = epochMs(text);
    if (at === null) {
      td.textContent = "\u2014";
      return td;
    }
    const t = node("time", relative(at, now));
    t.setAttribute("datetime", text);
    t.title = text;
    td.append(t);
    return td;
  }

  function percent(at, from, span) {
    return Math.min(100, Math.max(0, ((at - from) / span) * 100)) + "%";
  }

  /* The token's lifetime from its issue (the last refresh) to its expiry, with now and the
     next refresh marked on it. */
  function lifetimeCell(p, now) {
    const td = node("td");
    const issued = epochMs(p.lastRefreshAt);
    const expires = epochMs(p.expiresAt);
    const refresh = epochMs(p.refreshAt);
    if (issued === null || expires === null || expires <= issued) {
      td.append(node("span", "no token", "muted"));
      return td;
    }
    const span = expires - issued;
    const bar = node("div", null, "bar");
    const used = node("div", null, "used");
    used.style.width = percent(now, issued, span);
    bar.append(used);
    const words = ["issued " + relative(issued, now)];
    if (refresh !== null) {
      const mark = node("div", null, "mark refresh");
      mark.style.left = percent(refresh, issued, span);
      bar.append(mark);
      words.push("refresh " + relative(refresh, now));
    }
    const nowMark = node("div", null, "mark now");
    nowMark.style.left = percent(now, issued, span);
    bar.append(nowMark, node("div", null, "mark expiry"));
    const expiry = (expires >= now ? "expires " : "expired ") + relative(expires, now);
    words.push(expiry);
    bar.setAttribute("role", "img");
    bar.setAttribute("aria-label", "Token lifetime: " + words.join(", "));
    bar.title = words.join(", ");
    td.append(bar, node("div", expiry, "sub"));
    return td;
  }

  function profileRow(p, now) {
    const tr = node("tr");
    tr.setAttribute("data-profile", String(p.name));
    const name = node("th");
    name.scope = "row";
    name.append(node("span", p.name));
    if (p.default === true) name.append(node("span", "default", "tag"));
    name.append(node("div", p.product + " \u00b7 customer " + p.customerId, "sub"));
    const state = String(p.state);
    const stateCell = node("td");
    stateCell.append(node("span", state, "state state-" + (STATES.includes(state) ? state : "other")));
    const failures = node("td", p.consecutiveFailures, "num");
    if (p.consecutiveFailures > 0) failures.classList.add("bad");
    const hasError = typeof p.lastError === "string" && p.lastError !== "";
    const error = node("td", hasError ? p.lastError : "\u2014", hasError ? "error" : "muted");
    tr.append(name, stateCell, lifetimeCell(p, now), timeCell(p.refreshAt, now),
              timeCell(p.lastRefreshAt, now), failures, node("td", p.refreshCount, "num"), error);
    return tr;
  }

  function fillList(id, entries) {
    const dl = byId(id);
    dl.replaceChildren();
    for (const [term, value] of entries)
      dl.append(node("dt", term), node("dd", value === undefined || value === null ? "\u2014" : value));
  }

  function setSummary(kind, text) {
    const s = byId("summary");
    s.textContent = text;
    s.className = "summary " + kind;
    document.body.classList.toggle("stale", kind === "error");
  }

  function render(doc) {
    const d = doc.data;
    const serverTime = doc.meta && typeof doc.meta.time === "string" ? doc.meta.time : null;
    const now = epochMs(serverTime) ?? Date.now();
    const profiles = Array.isArray(d.profiles) ? d.profiles : [];
    const rows = byId("profile-rows");
    rows.replaceChildren(...profiles.map((p) => profileRow(p, now)));
    if (profiles.length === 0) {
      const td = node("td", "No token profiles configured.", "muted");
      td.colSpan = 8;
      rows.append(node("tr"));
      rows.lastChild.append(td);
    }
    const u = d.upstream || {};
    fillList("upstream", [
      ["Base URL", u.baseUrl],
      ["Requests", u.requests],
      ["Errors", u.errors],
      ["Last latency", typeof u.lastLatencyMs === "number" ? u.lastLatencyMs.toFixed(1) + " ms" : null],
      ["Connections (open / idle)", u.openConnections + " / " + u.idleConnections],
      ["TLS handshakes", u.tlsHandshakes],
    ]);
    fillList("daemon", [
      ["Version", d.version],
      ["Started", d.startTime],
      ["Uptime", typeof d.uptime === "number" ? duration(d.uptime * 1000) : null],
      ["Listeners", Array.isArray(d.listeners) ? d.listeners.join(", ") : null],
      ["Open local connections", d.openConnections],
      ["On-demand entries", d.onDemandEntries],
    ]);
    const counts = new Map();
    for (const p of profiles) counts.set(String(p.state), (counts.get(String(p.state)) || 0) + 1);
    const states = [...counts].map(([s, n]) => n + " " + s).join(", ");
    /* The live region changes only when a state does, so a screen reader is not told the time
       every 5 s; the time is beside it. */
    setSummary("ok", profiles.length + (profiles.length === 1 ? " profile" : " profiles") +
               (states ? ": " + states : "") + ".");
    byId("updated").textContent =
      serverTime ? serverTime.replace("T", " ").replace("Z", " UTC") : "unknown";
  }

  async function update() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      let res;
      try {
        res = await fetch("/status", {
          headers: { Accept: "application/json" }, cache: "no-store", credentials: "omit",
          redirect: "error", signal: controller.signal,
        });
      } catch (e) {
        throw new Error(e.name === "AbortError"
          ? "Cannot reach the daemon: no answer within " + TIMEOUT_MS / 1000 + " s."
          : "Cannot reach the daemon (" + e.message + ").");
      }
      let doc = null;
      try {
        doc = await res.json();
      } catch (e) {
        doc = null;
      }
      if (!res.ok || !doc || typeof doc.data !== "object" || doc.data === null) {
        const why = doc && doc.error && typeof doc.error.message === "string"
          ? doc.error.message : "not a /status reply";
        throw new Error("The daemon answered /status with " + res.status + ": " + why + ".");
      }
      render(doc);
      lastGood = Date.now();
    } catch (e) {
      setSummary("error", e.message + " " +
                 (lastGood === null ? "No data yet."
                                    : "The data below is " + duration(Date.now() - lastGood) + " old.") +
                 " Trying again every " + PERIOD_MS / 1000 + " s.");
    } finally {
      clearTimeout(timer);
      setTimeout(update, PERIOD_MS);
    }
  }

  update();
})();
)js";

constexpr std::string_view head = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>synergy-tokend status</title>
<link rel="icon" href="data:,">
)html";

constexpr std::string_view body = R"html(
</head>
<body>
<header>
<h1>synergy-tokend</h1>
<p id="summary" class="summary" role="status" aria-live="polite">Loading /status&hellip;</p>
<p class="sub">Data of <span id="updated">none yet</span> (the daemon's clock), read every 5 s
from GET /status.</p>
<noscript><p class="summary error">This page needs JavaScript to read GET /status, which
has the same data as JSON.</p></noscript>
</header>
<main>
<section aria-labelledby="profiles-heading">
<h2 id="profiles-heading">Token profiles</h2>
<table>
<caption>Lifetime bar: from the token's issue (last refresh) to its expiry, with
<span class="key now"></span>now <span class="key refresh"></span>next refresh
<span class="key expiry"></span>expiry</caption>
<thead><tr>
<th scope="col">Profile</th><th scope="col">State</th><th scope="col">Token lifetime</th>
<th scope="col">Next refresh</th><th scope="col">Last refresh</th>
<th scope="col">Consecutive failures</th><th scope="col">Refreshes</th>
<th scope="col">Last error</th>
</tr></thead>
<tbody id="profile-rows"></tbody>
</table>
</section>
<div class="columns">
<section aria-labelledby="upstream-heading">
<h2 id="upstream-heading">Upstream</h2>
<dl id="upstream"></dl>
</section>
<section aria-labelledby="daemon-heading">
<h2 id="daemon-heading">Daemon</h2>
<dl id="daemon"></dl>
</section>
</div>
</main>
<footer><p>No token is ever shown here.</p></footer>
)html";

// 'sha256-<base64 of the SHA-256 of text>': a CSP hash source.
std::string hash_source(std::string_view text) {
    return "'sha256-" + sha256_base64(text) + "'";
}

struct page {
    std::string document;
    std::string csp;
};

const page& the_page() {
    static const page p = [] {
        page out;
        out.document.reserve(head.size() + style.size() + body.size() + script.size() + 64);
        out.document.append(head).append("<style>").append(style).append("</style>");
        out.document.append(body).append("<script>").append(script).append("</script>\n");
        out.document.append("</body>\n</html>\n");
        out.csp = "default-src 'none'; script-src " + hash_source(script) + "; style-src " +
                  hash_source(style) +
                  "; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                  "frame-ancestors 'none'";
        return out;
    }();
    return p;
}

} // namespace

const std::string& status_page_document() {
    return the_page().document;
}

std::string_view status_page_style() {
    return style;
}

std::string_view status_page_script() {
    return script;
}

const std::string& status_page_csp() {
    return the_page().csp;
}

local_response status_page_response() {
    local_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.set("Content-Security-Policy", status_page_csp());
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "no-store");
    res.set("Referrer-Policy", "no-referrer");
    res.set(http::field::x_frame_options, "DENY");
    res.body() = status_page_document();
    return res;
}

} // namespace synergy_tokend
