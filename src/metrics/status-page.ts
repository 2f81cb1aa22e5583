/**
 * The status page served at `/`: one self-contained HTML document (no build
 * step, no CDN, no web fonts; the server's CSP forbids anything external). Its
 * script polls the JSON endpoints every second with relative URLs (so it also
 * works behind a path prefix) and draws line charts on <canvas> by hand.
 *
 * For tests and curious operators it publishes `window.ordertailStatus`:
 * { polls, pointsDrawn: {chartId: n}, lastError, stream, modes } and sets data-points on each
 * canvas. In legacy and hybrid mode a card sets the live path beside the batch
 * path (`modes`: { mode, polls, last: the comparison's counts }; the exact
 * counts also as data-* attributes of #paths-card). With the WebSocket broadcaster on (metrics/broadcast says where), a
 * live view subscribes to it: the newest records and per-symbol rates
 * (`stream`: { state, records, lastSeq, gaps, rates: {symbol: per second} }).
 * A token for it is taken from the page's fragment (#ws-token=...), which
 * the browser never sends to a server. Written with no template literals inside, so this file can hold it
 * in one String.raw literal.
 */
export const STATUS_PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ordertail status</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec; --live:#2f6fdb; --hist:#e07b2a; --all:#6b7385; --bad:#c62f2f; --good:#1d8a4f; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:var(--card); border-bottom:1px solid var(--line); }
  header h1 { font-size:18px; margin:0; }
  .badge { padding:2px 10px; border-radius:10px; font-weight:600; font-size:12px; color:#fff; background:var(--muted); }
  .badge.ok { background:var(--good); } .badge.bad { background:var(--bad); }
  .meta { color:var(--muted); font-size:12px; }
  main { padding:16px 20px; max-width:1400px; margin:0 auto; }
  .tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(150px, 1fr)); gap:10px; margin-bottom:14px; }
  .tile { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:8px 12px; }
  .tile .v { font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
  .tile .k { color:var(--muted); font-size:12px; }
  .charts { display:grid; grid-template-columns:repeat(auto-fill, minmax(420px, 1fr)); gap:12px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
  .card h2 { font-size:13px; margin:0 0 6px; font-weight:600; }
  canvas { width:100%; height:200px; display:block; }
  table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
  th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); font-size:13px; }
  th { color:var(--muted); font-weight:600; } td.n, th.n { text-align:right; }
  .bar { height:8px; background:var(--line); border-radius:4px; min-width:80px; } .bar > div { height:8px; border-radius:4px; background:var(--hist); }
  .live-dot { color:var(--live); } .hist-dot { color:var(--hist); }
  .stream { display:grid; grid-template-columns:minmax(220px, 1fr) 3fr; gap:12px; align-items:start; }
  #stream-newest td:last-child { font-family:ui-monospace, monospace; font-size:12px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; max-width:0; width:70%; }
  #error { display:none; background:#fde8e8; color:var(--bad); padding:8px 20px; }
  footer { color:var(--muted); font-size:12px; padding:10px 20px 20px; } footer a { color:var(--muted); }
</style>
</head>
<body>
<header><h1>ordertail</h1><span id="ready" class="badge">…</span><span class="meta" id="meta"></span><span class="meta" id="features"></span></header>
<div id="error"></div>
<main>
  <div class="tiles" id="tiles"></div>
  <div class="charts">
    <div class="card"><h2>Records emitted / s</h2><canvas id="c-rate"></canvas></div>
    <div class="card"><h2>Duplicates / s</h2><canvas id="c-dup"></canvas></div>
    <div class="card"><h2>Rejects / s</h2><canvas id="c-rej"></canvas></div>
    <div class="card"><h2>Lag (bytes not yet read, all files)</h2><canvas id="c-lag"></canvas></div>
    <div class="card"><h2>Live stream latency, ms (append observed → emitted; records of each interval)</h2><canvas id="c-lat-live"></canvas></div>
    <div class="card"><h2>History stream latency, ms (range planned → emitted; records of each interval)</h2><canvas id="c-lat-hist"></canvas></div>
  </div>
  <div class="card" style="margin-top:12px;display:none" id="paths-card"><h2>Paths: live (realtime) beside batch (closed files read whole) <span class="meta" id="paths-mode"></span></h2>
    <div class="charts">
      <div><h2>Records seen / s, per path</h2><canvas id="c-mode-rate"></canvas></div>
      <div><h2>Records seen by one path only (total)</h2><canvas id="c-mode-only"></canvas></div>
      <div id="paths-lag-chart"><h2>Lag between paths, s (batch − live, records both saw)</h2><canvas id="c-mode-lag"></canvas></div>
    </div>
    <table style="margin-top:8px"><thead><tr><th>path</th><th class="n">seen</th><th class="n">first (emitted)</th><th class="n">duplicates</th><th class="n">seen by this path only</th><th class="n">emit latency p99, ms (live / history stream)</th></tr></thead><tbody id="paths"></tbody></table>
    <div class="meta" id="paths-lag"></div>
  </div>
  <div class="card" style="margin-top:12px" id="stream-card"><h2>Live stream (WebSocket) <span class="meta" id="stream-state">off</span></h2>
    <div class="stream">
      <table><thead><tr><th>symbol</th><th class="n">records / s</th><th class="n">seen</th></tr></thead><tbody id="stream-rates"></tbody></table>
      <table><thead><tr><th class="n">seq</th><th>symbol</th><th>record</th></tr></thead><tbody id="stream-newest"></tbody></table>
    </div>
  </div>
  <div class="card" style="margin-top:12px"><h2>Followed files</h2>
    <table><thead><tr><th>file</th><th>stream</th><th class="n">size</th><th class="n">read</th><th class="n">lag</th><th>lag share</th></tr></thead><tbody id="files"></tbody></table>
  </div>
</main>
<footer>JSON: <a href="metrics/streaming">streaming</a> · <a href="metrics/latency">latency</a> · <a href="metrics/comparison">comparison</a> · <a href="metrics/files">files</a> · <a href="metrics/series">series</a> · Prometheus: <a href="metrics">metrics</a> · <a href="readyz">readyz</a></footer>
<script>
"use strict";
(function () {
  var state = { polls: 0, pointsDrawn: {}, lastError: null };
  window.ordertailStatus = state;
  var points = [], lastT = -1, intervalMs = 1000, capacity = 300;
  var COLORS = { live: "#2f6fdb", history: "#e07b2a", all: "#6b7385", p50: "#1d8a4f", p90: "#2f6fdb", p99: "#e07b2a", p999: "#c62f2f" };

  function getJson(path) {
    return fetch(path, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }
  function fmt(n) {
    if (n === null || n === undefined || !isFinite(n)) return "–";
    var a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(1) + "k";
    if (a >= 100 || n === Math.round(n)) return String(Math.round(n));
    return String(Number(n.toPrecision(3)));
  }
  function bytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n >= 100 ? n.toFixed(0) : n.toFixed(1).replace(/\.0$/, "")) + " " + u[i];
  }
  function niceStep(range) {
    var raw = range / 4, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  }

  /* series: [{name, color, values: [[t, v|null]]}]; a null or (log scale) non-positive value breaks the line. */
  function drawChart(canvas, series, opts) {
    var dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var tMax = opts.tMax, tMin = opts.tMin, lo = Infinity, hi = -Infinity;
    series.forEach(function (s) { s.values.forEach(function (p) {
      if (p[1] === null || (opts.log && p[1] <= 0)) return;
      lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]);
    }); });
    var ticks = [], y0, y1, label = opts.format || fmt;
    if (opts.log) {
      if (!isFinite(lo)) { lo = 0.1; hi = 10; }
      y0 = Math.floor(Math.log10(lo)); y1 = Math.ceil(Math.log10(hi)); if (y1 === y0) y1 = y0 + 1;
      for (var e = y0; e <= y1; e++) ticks.push(Math.pow(10, e));
    } else {
      if (!isFinite(hi) || hi <= 0) hi = 1;
      /* byte axes step in KiB/MiB/GiB multiples, so labels read 16 MiB, not 16.8 MB */
      var unit = opts.binary ? Math.pow(1024, Math.max(0, Math.floor(Math.log(hi) / Math.log(1024)))) : 1;
      var step = niceStep(hi / unit) * unit; y0 = 0; y1 = Math.ceil(hi / step) * step;
      for (var v = 0; v <= y1 + step / 2; v += step) ticks.push(v);
    }
    ctx.font = "11px system-ui, sans-serif"; ctx.lineWidth = 1;
    var L = 12 + ticks.reduce(function (m, v) { return Math.max(m, ctx.measureText(label(v)).width); }, 24);
    var R = 10, T = 22, B = 22, pw = w - L - R, ph = h - T - B;
    function Y(v) { var f = opts.log ? (Math.log10(v) - y0) / (y1 - y0) : (v - y0) / (y1 - y0); return T + ph - f * ph; }
    function X(t) { return L + ((t - tMin) / Math.max(1, tMax - tMin)) * pw; }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ticks.forEach(function (v) {
      var y = Math.round(Y(v)) + 0.5;
      ctx.strokeStyle = "#e3e6ec"; ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(L + pw, y); ctx.stroke();
      ctx.fillStyle = "#6b7385"; ctx.fillText(label(v), L - 6, y);
    });
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    var span = (tMax - tMin) / 1000, xstep = [1, 2, 5, 10, 15, 30, 60, 120].filter(function (c) { return span / c <= 6; })[0] || 300;
    for (var s = 0; s <= span; s += xstep) {
      ctx.fillText(s === 0 ? "now" : "-" + s + "s", X(tMax - s * 1000), T + ph + 5);
    }
    var drawn = 0;
    series.forEach(function (sr) {
      ctx.strokeStyle = sr.color; ctx.lineWidth = 1.8; ctx.setLineDash(sr.dash ? [4, 3] : []);
      ctx.beginPath(); var pen = false;
      sr.values.forEach(function (p) {
        if (p[0] < tMin || p[1] === null || (opts.log && p[1] <= 0)) { pen = false; return; }
        var x = X(p[0]), y = Y(p[1]);
        if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); ctx.fillStyle = sr.color; ctx.fillRect(x - 1, y - 1, 2, 2); }
        pen = true; drawn++;
      });
      ctx.stroke();
    });
    ctx.setLineDash([]); ctx.textAlign = "left"; ctx.textBaseline = "middle";
    var lx = L;
    series.forEach(function (sr) {
      ctx.fillStyle = sr.color; ctx.fillRect(lx, 8, 12, 3);
      ctx.fillStyle = "#1d2330"; ctx.fillText(sr.name, lx + 16, 10); lx += 26 + ctx.measureText(sr.name).width;
    });
    canvas.dataset.points = String(drawn);
    state.pointsDrawn[canvas.id] = drawn;
  }

  function col(stream, key) {
    return points.map(function (p) { return [p.t, stream ? p[stream][key] : p[key]]; });
  }
  function perStream(key) {
    var split = points.length > 0 && points[points.length - 1].live[key] !== null;
    if (!split) return [{ name: "all streams", color: COLORS.all, values: col(null, key) }];
    return [{ name: "live", color: COLORS.live, values: col("live", key) }, { name: "history", color: COLORS.history, values: col("history", key) }];
  }
  function latency(stream) {
    return ["p50", "p90", "p99", "p999"].map(function (q) {
      return { name: q === "p999" ? "p99.9" : q, color: COLORS[q], values: points.map(function (p) {
        var l = p[stream].latency_ms; return [p.t, l.count > 0 ? l[q] : null];
      }) };
    });
  }
  function drawAll() {
    if (points.length === 0) return;
    var tMax = points[points.length - 1].t, window_ = Math.min(capacity * intervalMs, 300000);
    var tMin = tMax - Math.min(window_, Math.max(tMax - points[0].t, 10 * intervalMs));
    var o = { tMin: tMin, tMax: tMax };
    var rate = [{ name: "live", color: COLORS.live, values: col("live", "orders_per_second") },
      { name: "history", color: COLORS.history, values: col("history", "orders_per_second") },
      { name: "read (all)", color: COLORS.all, dash: true, values: col(null, "records_read_per_second") }];
    drawChart(document.getElementById("c-rate"), rate, o);
    drawChart(document.getElementById("c-dup"), perStream("duplicates_per_second"), o);
    drawChart(document.getElementById("c-rej"), perStream("rejects_per_second"), o);
    drawChart(document.getElementById("c-lag"), [{ name: "lag", color: COLORS.history, values: col(null, "lag_bytes") }],
      { tMin: tMin, tMax: tMax, format: bytes, binary: true });
    drawChart(document.getElementById("c-lat-live"), latency("live"), { tMin: tMin, tMax: tMax, log: true });
    drawChart(document.getElementById("c-lat-hist"), latency("history"), { tMin: tMin, tMax: tMax, log: true });
  }

  function tile(k, v) {
    var d = document.createElement("div"); d.className = "tile";
    var a = document.createElement("div"); a.className = "v"; a.textContent = v;
    var b = document.createElement("div"); b.className = "k"; b.textContent = k;
    d.appendChild(a); d.appendChild(b); return d;
  }
  function renderStreaming(s, c) {
    var badge = document.getElementById("ready");
    badge.textContent = s.ready ? "ready" : "not ready";
    badge.className = "badge " + (s.ready ? "ok" : "bad");
    badge.title = s.not_ready_reasons.join("; ");
    document.getElementById("meta").textContent = "parser " + s.parser + " · up " + fmt(s.uptime_seconds) + " s · " +
      fmt(s.totals.files) + " files · rates over " + fmt(s.rate_window_seconds) + " s" + (s.ready ? "" : " · " + s.not_ready_reasons.join("; "));
    /* Feature flags (a config reload changes them): text for people, data-* for scripts. */
    var fe = document.getElementById("features"), f = s.features;
    fe.dataset.liveLane = f ? (f.live_lane ? "on" : "off") : ""; fe.dataset.shadowSample = f ? String(f.shadow_sample) : "";
    fe.dataset.canaryShare = f ? String(f.canary_share) : "";
    fe.textContent = !f ? "" : "· " + (c.mode || "realtime") + " mode · live lane " + (f.live_lane ? "on" : "off") + " · shadow parser " +
      (f.parser_shadow && f.shadow_sample > 0 ? f.parser_shadow + " on " + Number((f.shadow_sample * 100).toPrecision(3)) + " % of ranges" : "off") +
      " · canary parser " + (f.canary_parser && f.canary_share > 0 ? f.canary_parser + " on " + Number((f.canary_share * 100).toPrecision(3)) + " % of files" : "off");
    var t = document.getElementById("tiles"); t.textContent = "";
    [["orders / s", fmt(s.orders_per_second)], ["read / s", fmt(s.records_read_per_second)],
      ["duplicates (total)", fmt(s.duplicate_orders_count)], ["rejects / s", fmt(s.rejects_per_second)],
      ["live p99 (ms)", fmt(c.live.latency.p99)], ["history p99 (ms)", fmt(c.history.latency.p99)],
      ["memory (MB)", fmt(s.memory_usage_mb)], ["pool queue", fmt(s.file_processing_queue_size)],
      ["dedup load", (s.dedup.load * 100).toFixed(1) + " %"], ["sink errors", fmt(s.sink.errors)]
    ].forEach(function (kv) { t.appendChild(tile(kv[0], kv[1])); });
  }
  function renderFiles(f) {
    var body = document.getElementById("files"); body.textContent = "";
    var max = f.files.reduce(function (m, x) { return Math.max(m, x.lag_bytes); }, 0);
    f.files.forEach(function (x) {
      var tr = document.createElement("tr");
      [x.path, x.stream, bytes(x.size_bytes), bytes(x.read_bytes), bytes(x.lag_bytes)].forEach(function (v, i) {
        var td = document.createElement("td"); td.textContent = v; if (i >= 2) td.className = "n";
        if (i === 1) td.className = x.stream === "live" ? "live-dot" : "hist-dot";
        tr.appendChild(td);
      });
      var td = document.createElement("td"), bar = document.createElement("div"), fill = document.createElement("div");
      bar.className = "bar"; fill.style.width = (max > 0 ? (100 * x.lag_bytes) / max : 0) + "%";
      bar.appendChild(fill); td.appendChild(bar); tr.appendChild(td); body.appendChild(tr);
    });
    if (f.files.length === 0) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = 6; td.textContent = "no files yet"; tr.appendChild(td); body.appendChild(tr);
    }
  }

  /*
   * The paths chart (legacy and hybrid mode): one point per poll of
   * metrics/comparison, stamped with the server's time. Rates are the
   * difference of the cumulative counts between two polls. Legacy mode has
   * no live path: every record the engine read is the batch path's, and
   * the live path is drawn as absent, not as zero.
   */
  var pathPoints = [], MAX_PATH_POINTS = 600;
  state.modes = { mode: null, polls: 0, last: null };
  function pathsOf(c, s) {
    if (c.modes) return c.modes;
    if (c.mode !== "legacy") return null;
    var t = s.totals;
    return { live: null, batch: { first: t.records_emitted, notFirst: t.duplicates, only: t.records_emitted }, lagSeconds: null, batchFiles: null };
  }
  function seen(p) { return p ? p.first + p.notFirst : null; }
  function renderPaths(s, c) {
    var card = document.getElementById("paths-card"), m = pathsOf(c, s);
    state.modes.mode = c.mode || "realtime";
    if (!m) { card.style.display = "none"; card.dataset.mode = state.modes.mode; return; }
    card.style.display = "block";
    var t = Date.parse(c.time);
    var prev = pathPoints.length > 0 ? pathPoints[pathPoints.length - 1] : null;
    var pt = { t: t, m: m, liveRate: null, batchRate: null };
    if (prev && t > prev.t) {
      var dt = (t - prev.t) / 1000;
      pt.liveRate = m.live && prev.m.live ? Math.max(0, seen(m.live) - seen(prev.m.live)) / dt : null;
      pt.batchRate = Math.max(0, seen(m.batch) - seen(prev.m.batch)) / dt;
    }
    if (!prev || t > prev.t) pathPoints.push(pt);
    if (pathPoints.length > MAX_PATH_POINTS) pathPoints.splice(0, pathPoints.length - MAX_PATH_POINTS);
    state.modes.polls++; state.modes.last = m;
    /* Exact counts for reconciliation (tests, operators comparing with the sink). */
    var d = card.dataset;
    d.mode = c.mode;
    d.liveFirst = m.live ? String(m.live.first) : ""; d.liveNotFirst = m.live ? String(m.live.notFirst) : ""; d.liveOnly = m.live ? String(m.live.only) : "";
    d.batchFirst = String(m.batch.first); d.batchNotFirst = String(m.batch.notFirst); d.batchOnly = String(m.batch.only);
    d.batchFiles = m.batchFiles === null ? "" : String(m.batchFiles); d.lagCount = m.lagSeconds ? String(m.lagSeconds.count) : "";
    document.getElementById("paths-mode").textContent = c.mode === "legacy" ? "legacy mode: the batch path only, nothing is tailed" :
      c.mode === "hybrid" ? "hybrid mode · " + m.batchFiles + " closed file(s) read by the batch path" :
      c.mode + " mode now: the batch path is stopped; the counts are those of the hybrid periods (" + m.batchFiles + " closed file(s) read)";
    var body = document.getElementById("paths"); body.textContent = "";
    [["live", m.live, c.live.latency], ["batch", m.batch, c.history.latency]].forEach(function (row) {
      var tr = document.createElement("tr"), p = row[1];
      tr.dataset.path = row[0];
      var cells = p ? [row[0], String(seen(p)), String(p.first), String(p.notFirst), String(p.only), row[2].count > 0 ? fmt(row[2].p99) : "–"] :
        [row[0], "off", "–", "–", "–", "–"];
      cells.forEach(function (v, i) {
        var td = document.createElement("td"); td.textContent = v; if (i > 0) td.className = "n";
        if (i === 0) td.className = row[0] === "live" ? "live-dot" : "hist-dot";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var lag = m.lagSeconds;
    document.getElementById("paths-lag").textContent = !lag ? "" : lag.count === 0 ? "no record seen by both paths yet" :
      "lag between paths over " + lag.count + " records seen by both: p50 " + fmt(lag.p50) + " s · p99 " + fmt(lag.p99) + " s · max " + fmt(lag.max) + " s";
  }
  function drawPaths() {
    if (pathPoints.length === 0 || document.getElementById("paths-card").style.display === "none") return;
    var tMax = pathPoints[pathPoints.length - 1].t, tMin = Math.min(pathPoints[0].t, tMax - 10000);
    var o = { tMin: tMin, tMax: tMax }, legacy = pathPoints[pathPoints.length - 1].m.live === null;
    function line(name, color, dash, f) { return { name: name, color: color, dash: dash, values: pathPoints.map(function (p) { return [p.t, f(p)]; }) }; }
    var rate = [line("batch", COLORS.history, false, function (p) { return p.batchRate; })];
    var only = [line("batch only (live missed)", COLORS.history, false, function (p) { return p.m.batch.only; })];
    if (!legacy) {
      rate.unshift(line("live", COLORS.live, false, function (p) { return p.liveRate; }));
      only.unshift(line("live only", COLORS.live, false, function (p) { return p.m.live.only; }));
    }
    /* Legacy mode has one path: no lag between paths to draw. */
    document.getElementById("paths-lag-chart").style.display = legacy ? "none" : "block";
    drawChart(document.getElementById("c-mode-rate"), rate, o);
    drawChart(document.getElementById("c-mode-only"), only, o);
    if (legacy) return;
    var lag = ["p50", "p99", "max"].map(function (q) {
      return line(q, q === "max" ? COLORS.p999 : COLORS[q], q === "max", function (p) { var l = p.m.lagSeconds; return l && l.count > 0 ? l[q] : null; });
    });
    drawChart(document.getElementById("c-mode-lag"), lag, { tMin: tMin, tMax: tMax, log: true });
  }

  function poll() {
    Promise.all([getJson("metrics/series?since=" + lastT), getJson("metrics/streaming"), getJson("metrics/comparison"), getJson("metrics/files")])
      .then(function (r) {
        var series = r[0];
        intervalMs = series.interval_ms; capacity = series.capacity;
        series.points.forEach(function (p) { if (p.t > lastT) { points.push(p); lastT = p.t; } });
        if (points.length > capacity) points.splice(0, points.length - capacity);
        renderStreaming(r[1], r[2]); renderFiles(r[3]); renderPaths(r[1], r[2]); drawAll(); drawPaths();
        state.polls++; state.lastError = null;
        document.getElementById("error").style.display = "none";
      })
      .catch(function (err) {
        state.lastError = String(err && err.message ? err.message : err);
        var e = document.getElementById("error"); e.textContent = "cannot reach the engine: " + state.lastError; e.style.display = "block";
      })
      .then(function () { setTimeout(poll, Math.max(250, Math.min(intervalMs, 2000))); });
  }
  /* Live view over the broadcaster: rates over the last RATE_SECONDS, the newest NEWEST records. */
  var RATE_SECONDS = 10, NEWEST = 15;
  var stream = { state: "off", records: 0, lastSeq: 0, gaps: 0, lagging: 0, rates: {} };
  state.stream = stream;
  var perSymbol = {}, newest = [], socket = null;
  function bucketNow() { return Math.floor(Date.now() / 1000); }
  function countRecord(sym) {
    var b = bucketNow(), e = perSymbol[sym];
    if (!e) e = perSymbol[sym] = { seen: 0, counts: {} };
    e.seen++; e.counts[b] = (e.counts[b] || 0) + 1;
  }
  function renderStream() {
    var now = bucketNow(), rows = [];
    Object.keys(perSymbol).forEach(function (sym) {
      var e = perSymbol[sym], n = 0;
      Object.keys(e.counts).forEach(function (k) { if (now - Number(k) > RATE_SECONDS) delete e.counts[k]; else if (Number(k) < now) n += e.counts[k]; });
      stream.rates[sym] = n / RATE_SECONDS;
      rows.push([sym, n / RATE_SECONDS, e.seen]);
    });
    rows.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
    var body = document.getElementById("stream-rates"); body.textContent = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      [r[0], fmt(r[1]), fmt(r[2])].forEach(function (v, i) { var td = document.createElement("td"); td.textContent = v; if (i > 0) td.className = "n"; tr.appendChild(td); });
      body.appendChild(tr);
    });
    var list = document.getElementById("stream-newest"); list.textContent = "";
    newest.forEach(function (n) {
      var tr = document.createElement("tr");
      [String(n.seq), n.symbol, n.text].forEach(function (v, i) { var td = document.createElement("td"); td.textContent = v; if (i === 0) td.className = "n"; tr.appendChild(td); });
      list.appendChild(tr);
    });
    document.getElementById("stream-state").textContent = stream.state + (stream.records ? " · " + fmt(stream.records) + " records · seq " + stream.lastSeq : "") +
      (stream.gaps ? " · " + stream.gaps + " gap(s)" : "") + (stream.lagging ? " · " + fmt(stream.lagging) + " dropped (lagging)" : "");
  }
  function onFrame(ev) {
    var m; try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.type === "records") {
      m.records.forEach(function (r) {
        var sym = r.record && typeof r.record.symbol === "string" ? r.record.symbol : "(none)";
        countRecord(sym); stream.records++; stream.lastSeq = r.seq;
        newest.unshift({ seq: r.seq, symbol: sym, text: JSON.stringify(r.record).slice(0, 300) });
      });
      if (newest.length > NEWEST) newest.length = NEWEST;
    } else if (m.type === "gap") { stream.gaps++; }
    else if (m.type === "lagging") { stream.lagging += m.dropped; }
  }
  function connect(info) {
    var token = /(?:^#|&)ws-token=([^&]+)/.exec(location.hash), protocols = ["ordertail.v1"];
    if (token) protocols.push("bearer." + decodeURIComponent(token[1]));
    var url = "ws://" + location.hostname + ":" + info.port + "/" + (stream.lastSeq ? "?lastSeq=" + stream.lastSeq : "");
    stream.state = "connecting";
    socket = new WebSocket(url, protocols);
    socket.onopen = function () { stream.state = "connected"; };
    socket.onmessage = onFrame;
    socket.onclose = function (ev) {
      stream.state = "disconnected (" + ev.code + ")" + (info.token_required && !token ? ": a token is required, open this page as #ws-token=..." : "");
      socket = null; setTimeout(findStream, 2000);
    };
  }
  function findStream() {
    getJson("metrics/broadcast").then(function (info) {
      if (info.enabled) connect(info);
      else { stream.state = "off (--ws-port)"; setTimeout(findStream, 5000); }
    }).catch(function () { setTimeout(findStream, 5000); });
  }
  setInterval(renderStream, 1000);
  window.addEventListener("resize", function () { drawAll(); drawPaths(); });
  findStream();
  poll();
})();
</script>
</body>
</html>
`;
