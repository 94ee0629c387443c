"""The wall display page, its script and its stylesheet (served from this server only).

The page has no inline script or style and loads nothing from elsewhere; its
CSP allows scripts, styles, pictures and the event stream from ``'self'``
only and requires Trusted Types, so even a bug that tried to assign post text
to ``innerHTML`` would throw instead of parsing it. The script builds every
card with ``createElement`` and ``textContent``, and takes picture URLs only
when they are this server's media paths.
"""

from __future__ import annotations

from html import escape

WALL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'none'; media-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)

MEDIA_CSP = "default-src 'none'; sandbox"


def wall_page(event_id: str, event_name: str, venue: str, hashtags: list[str]) -> str:
    tags = " ".join(f"#{t}" for t in hashtags)
    return f"""<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(event_name)} · Wall</title>
<link rel="icon" href="/static/wall-icon">
<link rel="stylesheet" href="/static/wall.css">
<script src="/static/wall.js" defer></script>
</head>
<body data-event="{escape(event_id, quote=True)}" class="connecting">
<main id="grid" aria-live="polite"></main>
<section id="slide" aria-hidden="true">
  <h1 id="slide-name">{escape(event_name)}</h1>
  <p id="slide-venue">{escape(venue)}</p>
  <p id="slide-tags">{escape(tags)}</p>
</section>
<section id="announcement" role="alert" hidden>
  <div class="lang" lang="de"><h1 id="ann-title-de"></h1><p id="ann-text-de"></p></div>
  <div class="lang" lang="en"><h1 id="ann-title-en"></h1><p id="ann-text-en"></p></div>
</section>
</body>
</html>
"""


WALL_CSS = """
:root { --bg: #10141c; --card: #1c2330; --fg: #f2f4f8; --muted: #9aa6ba; --accent: #f5b400;
  --cols: 3; --rows: 2; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--fg);
  font-family: system-ui, sans-serif; overflow: hidden; }
#grid { display: grid; gap: 1.2vw; padding: 1.2vw; height: 100vh;
  grid-template-columns: repeat(var(--cols), minmax(0, 1fr));
  grid-template-rows: repeat(var(--rows), minmax(0, 1fr)); }
.post { background: var(--card); border-radius: 0.8vw; padding: 1.2vw; overflow: hidden;
  display: flex; flex-direction: column; gap: 0.8vw; position: relative; min-height: 0; }
.post.pinned { outline: 0.25vw solid var(--accent); }
.pin { position: absolute; top: 0.6vw; right: 0.8vw; color: var(--accent); font-size: 1.2vw; }
.head { display: flex; align-items: center; gap: 0.8vw; min-width: 0; }
.avatar { width: 3.2vw; height: 3.2vw; border-radius: 50%; object-fit: cover; flex: none;
  background: #2c3646; display: flex; align-items: center; justify-content: center;
  font-weight: 700; font-size: 1.4vw; }
.who { display: flex; flex-direction: column; min-width: 0; flex: 1; }
.name, .handle { unicode-bidi: isolate; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.name { font-weight: 700; font-size: 1.3vw; }
.handle, .time { color: var(--muted); font-size: 1vw; }
.text { margin: 0; font-size: 1.5vw; line-height: 1.35; white-space: pre-wrap;
  overflow-wrap: anywhere; unicode-bidi: isolate; overflow: hidden; flex: 1 1 auto; min-height: 0; }
.thumb { max-width: 100%; max-height: 40%; object-fit: cover; border-radius: 0.5vw; flex: 0 1 auto;
  min-height: 0; }
#slide { position: fixed; inset: 0; display: none; flex-direction: column; align-items: center;
  justify-content: center; background: var(--bg); text-align: center; }
#slide h1 { font-size: 5vw; margin: 0 0 1vw; }
#slide p { font-size: 2.2vw; color: var(--muted); margin: 0.4vw; }
body.blank #slide, body.paused #slide, body.connecting #slide { display: flex; }
body.blank #grid, body.paused #grid, body.connecting #grid { visibility: hidden; }
#announcement { position: fixed; inset: 0; background: #b00020; color: #fff; display: flex;
  flex-direction: column; justify-content: center; gap: 4vh; padding: 6vw; z-index: 10; }
#announcement[hidden] { display: none; }
#announcement h1 { font-size: 5vw; margin: 0 0 1.5vh; }
#announcement p { font-size: 2.8vw; margin: 0; line-height: 1.3; }
#announcement .lang[lang=en] { opacity: 0.9; border-top: 0.3vh solid rgba(255,255,255,.5);
  padding-top: 4vh; }
"""


WALL_JS = r"""
"use strict";
(function () {
  const body = document.body;
  const eventId = body.dataset.event || "";
  const grid = document.getElementById("grid");
  const overlay = document.getElementById("announcement");
  const MEDIA = /^\/wall\/[A-Za-z0-9_-]+\/media\/[0-9a-f]{64}$/;
  const state = {
    posts: new Map(), announcement: null, paused: false, blankS: 30, rotateS: 12, hbS: 5,
    lastSeen: Date.now(), page: 0, pageStarted: Date.now(), live: false, skew: 0,
  };
  let source = null;
  let retryMs = 1000;
  let lastKick = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function safeSrc(src) { return typeof src === "string" && MEDIA.test(src) ? src : null; }
  function rel(iso) {
    const s = Math.max(0, (Date.now() + state.skew - Date.parse(iso)) / 1000);
    if (!isFinite(s) || s < 60) return "jetzt · now";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h";
    return Math.floor(s / 86400) + " d";
  }
  function card(p) {
    const c = el("article", p.pinned ? "post pinned" : "post");
    c.dataset.id = String(p.id);
    const head = el("header", "head");
    const av = safeSrc(p.avatar);
    if (av) {
      const img = el("img", "avatar");
      img.alt = ""; img.src = av; head.append(img);
    } else {
      head.append(el("div", "avatar", String(p.author_name || p.author || "?").slice(0, 1).toUpperCase()));
    }
    const who = el("div", "who");
    who.append(el("bdi", "name", p.author_name || p.author), el("bdi", "handle", "@" + p.author));
    head.append(who);
    const t = el("time", "time", rel(p.created_at));
    t.dateTime = String(p.created_at);
    head.append(t);
    c.append(head);
    const text = el("p", "text", p.text);
    text.dir = "auto";
    c.append(text);
    for (const m of p.media || []) {
      const src = safeSrc(m && m.src);
      if (!src) continue;
      const img = el("img", "thumb");
      img.alt = String(m.alt || ""); img.src = src; c.append(img);
      break;
    }
    if (p.pinned) c.append(el("span", "pin", "\u{1F4CC}"));
    return c;
  }
  function layout() {
    const cols = Math.max(1, Math.min(6, Math.floor(window.innerWidth / 420)));
    const rows = Math.max(1, Math.min(4, Math.floor(window.innerHeight / 330)));
    grid.style.setProperty("--cols", String(cols));
    grid.style.setProperty("--rows", String(rows));
    return cols * rows;
  }
  function ordered() {
    return Array.from(state.posts.values()).sort(function (a, b) {
      if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
      return Date.parse(b.created_at) - Date.parse(a.created_at);
    });
  }
  function render() {
    const all = ordered();
    const cap = layout();
    let shown = all;
    if (all.length > cap) {
      const pinned = all.filter(function (p) { return p.pinned; }).slice(0, Math.max(0, cap - 1));
      const rest = all.filter(function (p) { return !p.pinned; });
      const per = Math.max(1, cap - pinned.length);
      const pages = Math.max(1, Math.ceil(rest.length / per));
      state.page = state.page % pages;
      shown = pinned.concat(rest.slice(state.page * per, state.page * per + per));
    } else {
      state.page = 0;
    }
    grid.replaceChildren.apply(grid, shown.map(card));
    body.dataset.count = String(all.length);
  }
  function showAnnouncement() {
    const a = state.announcement;
    if (a) {
      for (const k of ["title_de", "text_de", "title_en", "text_en"]) {
        document.getElementById("ann-" + k.replace("_", "-")).textContent = String(a[k] || "");
      }
      overlay.hidden = false;
      body.classList.add("announcing");
    } else {
      overlay.hidden = true;
      body.classList.remove("announcing");
    }
  }
  function showSlide(ev) {
    if (!ev) return;
    document.getElementById("slide-name").textContent = String(ev.name || "");
    document.getElementById("slide-venue").textContent = String(ev.venue || "");
    document.getElementById("slide-tags").textContent =
      (ev.hashtags || []).map(function (t) { return "#" + t; }).join(" ");
  }
  function seen() {
    state.lastSeen = Date.now();
    if (body.classList.contains("blank")) body.classList.remove("blank");
  }
  function serverTime(now) {
    const t = Date.parse(now);
    if (isFinite(t)) state.skew = t - Date.now();  // screens' own clocks may be wrong
  }
  function on(kind, fn) {
    source.addEventListener(kind, function (m) {
      seen();
      let data;
      try { data = JSON.parse(m.data); } catch (e) { return; }
      fn(data);
    });
  }
  function connect() {
    if (source) source.close();
    source = new EventSource("/wall/" + encodeURIComponent(eventId) + "/stream");
    on("snapshot", function (s) {
      state.posts = new Map((s.posts || []).map(function (p) { return [p.id, p]; }));
      state.announcement = s.announcement || null;
      state.paused = !!s.paused;
      state.blankS = Number(s.blank_s) || 30;
      state.rotateS = Number(s.rotate_s) || 12;
      state.hbS = Number(s.hb_s) || 5;
      serverTime(s.now);
      state.live = true;
      showSlide(s.event);
      body.classList.remove("connecting");
      body.classList.toggle("paused", state.paused);
      showAnnouncement();
      render();
    });
    on("post", function (p) { state.posts.set(p.id, p); render(); });
    on("remove", function (d) { state.posts.delete(d.id); render(); });
    on("announcement", function (a) { state.announcement = a || null; showAnnouncement(); });
    on("pause", function (d) { state.paused = !!d.paused; body.classList.toggle("paused", state.paused); });
    on("hb", function (d) { serverTime(d.now); });
    source.onopen = function () { retryMs = 1000; };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 5000);
      }
    };
  }
  setInterval(function () {
    const quiet = (Date.now() - state.lastSeen) / 1000;
    if (quiet > state.blankS && !body.classList.contains("blank")) {
      body.classList.add("blank");
      state.posts.clear();
      grid.replaceChildren();
    }
    const idle = (Date.now() - Math.max(state.lastSeen, lastKick)) / 1000;
    if (idle > Math.max(3 * state.hbS, 3) && source && source.readyState === EventSource.OPEN) {
      lastKick = Date.now();
      connect();  // a half-open connection: start over, the snapshot catches up
    }
  }, 500);
  setInterval(function () {
    if (state.posts.size === 0) return;
    if ((Date.now() - state.pageStarted) / 1000 >= state.rotateS) {
      state.page += 1;
      state.pageStarted = Date.now();
      render();
    }
  }, 1000);
  setInterval(function () {
    for (const t of grid.querySelectorAll("time")) t.textContent = rel(t.dateTime);
  }, 15000);
  window.addEventListener("resize", render);
  connect();
})();
"""
