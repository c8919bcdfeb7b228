// Argus console, RF tab: receivers on a Leaflet map drawn from the vendored Natural Earth
// TopoJSON (no tiles, nothing from the internet), the selected emitter localization with its
// 95 % error ellipse and the simulated truth, the list of localizations, a simulated
// acquisition with its progress, and the measurement time series. The plot is drawn by hand
// as SVG (no chart library). Plain JavaScript; uses state, api, $ and el from console.js.
// Every top-level name starts with rf / RF: the console's scripts share one global scope.
"use strict";

const RF = {
  map: null,
  layers: {},
  geoLoaded: false,
  receivers: [],
  localizations: [],
  selectedId: null,
  ellipse: null,
  estimate: null,
  truth: null,
  fitted: false,
  loading: null,
  polling: null,
  series: [],
};

const RF_COLOURS = ["#4ea1ff", "#ffb347", "#5ccf7a", "#ff5c5c", "#b58cff", "#3fe0ff", "#ff2d8a",
  "#e0c34a", "#9aa5af", "#7fffd4"];
const RF_STATUS_COLOUR = { up: "#5ccf7a", down: "#ff5c5c", unknown: "#9aa5af" };
// The quantity of the plot: the raw field and the hourly aggregate's field.
const RF_QUANTITIES = {
  snr: { raw: "snr_db", hourly: "snr_mean_db", label: "SNR (dB)" },
  noise: { raw: "noise_floor_dbfs", hourly: "noise_floor_mean_dbfs", label: "noise floor (dBFS)" },
  power: { raw: "signal_power_dbfs", hourly: "signal_power_mean_dbfs", label: "signal power (dBFS)" },
};
const RF_SVG = "http://www.w3.org/2000/svg";
const rfNum = (x, d) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));
const rfColour = (receiverId) => RF_COLOURS[Math.abs(Number(receiverId) - 1) % RF_COLOURS.length];

// ---------------------------------------------------------------- tab entry
function rfShown() {
  if (!RF.map) rfInitMap();
  else RF.map.invalidateSize();
  const viewer = !state.user || state.user.role === "viewer";
  $("#rf-sim-submit").disabled = viewer;
  $("#rf-sim-submit").title = viewer ? "operators and admins only" : "";
  if (viewer && !$("#rf-sim-status").textContent) {
    $("#rf-sim-status").className = "muted";
    $("#rf-sim-status").textContent = "Starting an acquisition needs an operator or admin login.";
  }
  rfLoad();
}

function rfInitMap() {
  const map = L.map("rf-map", { zoomSnap: 0.25, attributionControl: true }).setView([45, 7.7], 8);
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("Natural Earth (public domain)");
  RF.map = map;
  map.createPane("rfgeo").style.zIndex = 350;
  for (const name of ["geo", "receivers", "miss", "ellipse", "truth", "estimate"]) {
    RF.layers[name] = L.layerGroup().addTo(map);
  }
  rfLoadGeography();
}

async function rfLoadGeography() {
  try {
    const [land, countries] = await Promise.all([
      fetch("/static/vendor/world-atlas/land-50m.json").then((r) => r.json()),
      fetch("/static/vendor/world-atlas/countries-50m.json").then((r) => r.json()),
    ]);
    L.geoJSON(topojson.feature(land, land.objects.land), {
      pane: "rfgeo", interactive: false,
      style: { className: "rf-geo-land", color: "#5b7083", weight: 1, fillColor: "#1c2a22", fillOpacity: 1 },
    }).addTo(RF.layers.geo);
    L.geoJSON(topojson.mesh(countries, countries.objects.countries, (a, b) => a !== b), {
      pane: "rfgeo", interactive: false,
      style: { className: "rf-geo-border", color: "#6f8190", weight: 0.8, dashArray: "4 3", fill: false },
    }).addTo(RF.layers.geo);
    RF.geoLoaded = true;
  } catch (e) {
    $("#rf-state").textContent = `map data not loaded: ${e.message}`;
  }
}

// ---------------------------------------------------------------- loading
async function rfLoad() {
  if (RF.loading) return RF.loading;
  RF.loading = (async () => {
    const badge = $("#rf-state");
    badge.textContent = "loading…";
    badge.className = "pill";
    try {
      const [receivers, locs] = await Promise.all([api("/api/rf/receivers"), rfLoadLocalizations()]);
      RF.receivers = receivers;
      RF.localizations = locs;
      rfRenderReceivers();
      rfRenderLocalizations();
      if (!RF.fitted) rfZoomNetwork();
      const keep = locs.find((l) => l.id === RF.selectedId);
      rfSelect(keep ? keep.id : locs.length ? locs[locs.length - 1].id : null);
      await rfLoadMeasurements();
      badge.textContent = `${receivers.length} receivers · ${locs.length} localizations`;
      badge.className = "pill live";
    } catch (e) {
      badge.textContent = `not loaded: ${e.message}`;
      badge.className = "pill";
    }
  })();
  try {
    await RF.loading;
  } finally {
    RF.loading = null;
  }
}

// Every localization (pages of 1000, at most 10 000), oldest first.
async function rfLoadLocalizations() {
  const out = [];
  let cursor = null;
  for (let page = 0; page < 10; page++) {
    const q = `limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const r = await api(`/api/rf/localizations?${q}`);
    out.push(...r.items);
    cursor = r.next_cursor;
    if (!cursor) break;
  }
  return out;
}

// ---------------------------------------------------------------- receivers
function rfRenderReceivers() {
  const layer = RF.layers.receivers;
  layer.clearLayers();
  const t = $("#rf-receivers");
  t.innerHTML = "";
  t.append(el("tr", {}, ...["name", "kind", "status", "lat", "lon", "clock σ"].map((h) => el("th", {}, h))));
  for (const r of RF.receivers) {
    const status = RF_STATUS_COLOUR[r.status] ? r.status : "unknown";
    const c = RF_STATUS_COLOUR[status];
    L.circleMarker([r.lat_deg, r.lon_deg], { radius: 7, className: `rf-receiver rf-status-${status}`, color: c,
      weight: 2, fillColor: c, fillOpacity: 0.8 })
      .bindTooltip(`${r.name} (${r.kind}): ${status}${r.last_seen_at ? `, last seen ${r.last_seen_at}` : ""}` +
        `${r.last_error ? ` — ${r.last_error}` : ""}`)
      .addTo(layer);
    L.tooltip({ permanent: true, direction: "right", offset: [8, 0], className: "rf-receiver-label" })
      .setLatLng([r.lat_deg, r.lon_deg]).setContent(r.name).addTo(layer);
    t.append(el("tr", { class: "rf-receiver-row", "data-receiver-id": r.id }, el("td", {}, r.name), el("td", {}, r.kind),
      el("td", { class: status === "up" ? "ok" : status === "down" ? "error" : "muted" }, status),
      el("td", {}, rfNum(r.lat_deg, 5)), el("td", {}, rfNum(r.lon_deg, 5)),
      el("td", {}, `${rfNum(r.clock_sigma_s * 1e9, 0)} ns`)));
  }
  if (!RF.receivers.length) t.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no receivers: `argus demo rf` or POST /api/rf/receivers")));
}

function rfZoomNetwork() {
  const pts = RF.receivers.map((r) => [r.lat_deg, r.lon_deg]);
  const sel = RF.localizations.find((l) => l.id === RF.selectedId);
  if (sel) pts.push([sel.lat_deg, sel.lon_deg]);
  if (!pts.length) return;
  RF.fitted = true;
  if (pts.length === 1) RF.map.setView(pts[0], 11);
  else RF.map.fitBounds(pts, { padding: [40, 40], maxZoom: 14 });
}

function rfZoomEstimate() {
  if (!RF.ellipse) return;
  const fit = () => {
    const b = RF.ellipse.getBounds();
    if (RF.truth) b.extend(RF.truth.getLatLng());
    RF.map.fitBounds(b, { padding: [60, 60], maxZoom: 19 });
  };
  // A view set while Leaflet still animates an earlier zoom (the network fit at load) is undone
  // when that animation ends: wait for it first. (_animatingZoom is Leaflet 1.9's own flag.)
  if (RF.map._animatingZoom) RF.map.once("zoomend", fit);
  else fit();
}

// ---------------------------------------------------------------- localizations
// The truth of a simulated acquisition: the API's truth_lat_deg / truth_lon_deg.
function rfTruthOf(l) {
  if (l.truth_lat_deg === null || l.truth_lat_deg === undefined) return null;
  return [l.truth_lat_deg, l.truth_lon_deg];
}

function rfRenderLocalizations() {
  const t = $("#rf-localizations");
  t.innerHTML = "";
  t.append(el("tr", {}, ...["id", "time (UTC)", "method", "error m", "95 % a×b m"].map((h) => el("th", {}, h))));
  if (!RF.localizations.length) {
    t.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "no localizations yet")));
    return;
  }
  for (const l of [...RF.localizations].reverse()) {
    t.append(el("tr", { class: `rf-loc clickable${l.id === RF.selectedId ? " selected" : ""}`, "data-loc-id": l.id,
      onclick: () => rfSelect(l.id) },
      el("td", {}, l.id), el("td", {}, String(l.time).slice(0, 19).replace("T", " ")), el("td", {}, l.method),
      el("td", {}, rfNum(l.error_m, 1)), el("td", {}, `${rfNum(l.ellipse95.a_m, 0)}×${rfNum(l.ellipse95.b_m, 0)}`)));
  }
}

// The 95 % ellipse as a ring of points: semi-axes a (major) and b, the major axis `orient_deg`
// clockwise from north; offsets in a local east/north plane turned into lat/lon on the sphere.
function rfEllipseRing(lat, lon, aM, bM, orientDeg, n = 96) {
  const th = (orientDeg * Math.PI) / 180;
  const pts = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const e = aM * Math.cos(t) * Math.sin(th) + bM * Math.sin(t) * Math.cos(th);
    const nn = aM * Math.cos(t) * Math.cos(th) - bM * Math.sin(t) * Math.sin(th);
    pts.push(rfDestination(lat, lon, (Math.atan2(e, nn) * 180) / Math.PI, Math.hypot(e, nn)));
  }
  return pts;
}

function rfDestination(lat, lon, bearingDeg, distM) {
  const R = 6371008.8, d = distM / R, th = (bearingDeg * Math.PI) / 180;
  const p1 = (lat * Math.PI) / 180, l1 = (lon * Math.PI) / 180;
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(th));
  const l2 = l1 + Math.atan2(Math.sin(th) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [(p2 * 180) / Math.PI, (((l2 * 180) / Math.PI + 540) % 360) - 180];
}

function rfSelect(id) {
  RF.selectedId = id;
  for (const name of ["ellipse", "estimate", "truth", "miss"]) RF.layers[name].clearLayers();
  RF.ellipse = RF.estimate = RF.truth = null;
  document.querySelectorAll("#rf-localizations tr.rf-loc").forEach((tr) =>
    tr.classList.toggle("selected", Number(tr.dataset.locId) === id));
  const box = $("#rf-estimate");
  box.innerHTML = "";
  const l = RF.localizations.find((x) => x.id === id);
  $("#rf-est-id").textContent = l ? `#${l.id}` : "";
  if (!l) {
    box.append(el("tr", {}, el("td", { class: "muted" }, "no localization selected")));
    return;
  }
  const e = l.ellipse95;
  RF.ellipse = L.polygon(rfEllipseRing(l.lat_deg, l.lon_deg, e.a_m, e.b_m, e.orient_deg), {
    className: "rf-ellipse", color: "#3fe0ff", weight: 2, fillColor: "#3fe0ff", fillOpacity: 0.15,
    smoothFactor: 0, noClip: true,
  }).bindTooltip(`95 % ellipse: ${rfNum(e.a_m, 1)} × ${rfNum(e.b_m, 1)} m, major axis ${rfNum(e.orient_deg, 1)}° from north`)
    .addTo(RF.layers.ellipse);
  RF.estimate = L.circleMarker([l.lat_deg, l.lon_deg], { radius: 5, className: "rf-estimate", color: "#3fe0ff",
    weight: 2, fillColor: "#0a1a2a", fillOpacity: 1 })
    .bindTooltip(`estimate #${l.id} (${l.method}): ${rfNum(l.lat_deg, 6)}, ${rfNum(l.lon_deg, 6)}`)
    .addTo(RF.layers.estimate);
  const truth = rfTruthOf(l);
  if (truth) {
    RF.truth = L.circleMarker(truth, { radius: 5, className: "rf-truth", color: "#e0c34a", weight: 2,
      fillColor: "#e0c34a", fillOpacity: 0.9 })
      .bindTooltip(`truth (simulated emitter): ${rfNum(truth[0], 6)}, ${rfNum(truth[1], 6)}`).addTo(RF.layers.truth);
    L.polyline([[l.lat_deg, l.lon_deg], truth], { className: "rf-miss", color: "#e0c34a", weight: 1,
      dashArray: "3 3", interactive: false }).addTo(RF.layers.miss);
  }
  const row = (k, v, id) => el("tr", {}, el("th", {}, k), el("td", id ? { id } : {}, v));
  box.append(
    row("time (UTC)", String(l.time).replace("T", " "), "rf-est-time"),
    row("lat °", rfNum(l.lat_deg, 6), "rf-est-lat"),
    row("lon °", rfNum(l.lon_deg, 6), "rf-est-lon"),
    row("alt m", rfNum(l.alt_m, 0)),
    row("method", l.method, "rf-est-method"),
    row("95 % ellipse", `${rfNum(e.a_m, 1)} × ${rfNum(e.b_m, 1)} m, ${rfNum(e.orient_deg, 1)}°`, "rf-est-ellipse"),
    row("GDOP", rfNum(l.gdop, 2)),
    row("CRLB m", rfNum(l.crlb_m, 1)),
    row("receivers used", (l.receivers_used || []).join(", ")),
  );
  if (truth) {
    box.append(row("truth lat °", rfNum(truth[0], 6), "rf-truth-lat"), row("truth lon °", rfNum(truth[1], 6), "rf-truth-lon"),
      row("error vs truth m", rfNum(l.error_m, 1), "rf-est-error"));
  } else {
    box.append(row("truth", "not simulated"));
  }
}

// ---------------------------------------------------------------- simulated acquisition
$("#rf-sim-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("#rf-sim-status"), bar = $("#rf-sim-progress");
  out.className = "";
  if (!RF.receivers.length) {
    out.className = "error";
    out.textContent = "no receivers to acquire with";
    return;
  }
  const f = new FormData(ev.target);
  // Default emitter: the receivers' centroid, moved by a fifth of the network's spread.
  const lats = RF.receivers.map((r) => r.lat_deg), lons = RF.receivers.map((r) => r.lon_deg);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const spread = (xs) => Math.max(...xs) - Math.min(...xs);
  const lat = f.get("lat") !== "" ? Number(f.get("lat")) : mean(lats) + (Math.random() - 0.5) * 0.4 * spread(lats);
  const lon = f.get("lon") !== "" ? Number(f.get("lon")) : mean(lons) + (Math.random() - 0.5) * 0.4 * spread(lons);
  const body = {
    frequency_hz: Number(f.get("frequencyMhz")) * 1e6,
    duration_s: Number(f.get("durationS")),
    receiver_ids: RF.receivers.map((r) => r.id),
    source: "simulated",
    params: { emitter: { lat_deg: lat, lon_deg: lon, kind: f.get("kind") }, snr_db: Number(f.get("snrDb")),
      seed: Math.floor(Math.random() * 1e9) },
  };
  $("#rf-sim-submit").disabled = true;
  bar.hidden = false;
  bar.value = 0;
  out.textContent = "starting…";
  try {
    const started = await api("/api/rf/acquisitions", { method: "POST", json: body });
    out.textContent = `${started.id.slice(0, 8)} ${started.status} (${started.queued_on})`;
    const acq = await rfPoll(started.status_url, (a) => {
      bar.value = a.progress;
      out.textContent = `${a.id.slice(0, 8)} ${a.status} ${Math.round(a.progress * 100)} %`;
    });
    bar.value = acq.progress;
    if (acq.status !== "complete") throw new Error(acq.error || acq.status);
    out.className = "ok";
    out.textContent = `${acq.id.slice(0, 8)} complete${acq.error ? ` (${acq.error})` : ""}`;
    RF.selectedId = null; // the newest (this one's) localization is selected after the reload
    await rfLoad();
  } catch (e) {
    out.className = "error";
    out.textContent = e.status === 403 ? "acquisitions: operators and admins only" : `acquisition: ${e.message}`;
  } finally {
    $("#rf-sim-submit").disabled = !state.user || state.user.role === "viewer";
  }
});

async function rfPoll(url, onProgress) {
  for (let i = 0; i < 1200; i++) {
    const a = await api(url);
    onProgress(a);
    if (a.status === "complete" || a.status === "failed") return a;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error("no result after 10 minutes");
}

// ---------------------------------------------------------------- measurements
async function rfLoadMeasurements() {
  const agg = $("#rf-aggregation").value;
  const windowS = Number($("#rf-window").value);
  const start = new Date(Date.now() - windowS * 1000).toISOString();
  const rows = [];
  let cursor = null;
  for (let page = 0; page < 10; page++) { // at most 10 000 points
    const q = `aggregation=${agg}&limit=1000&start=${encodeURIComponent(start)}` +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const r = await api(`/api/rf/measurements?${q}`);
    rows.push(...r.items);
    cursor = r.next_cursor;
    if (!cursor) break;
  }
  rfPlot(rows, agg, $("#rf-quantity").value, cursor !== null);
}

for (const id of ["#rf-quantity", "#rf-aggregation", "#rf-window"]) {
  $(id).addEventListener("change", () => rfLoadMeasurements().catch((e) => { $("#rf-plot-info").textContent = e.message; }));
}
$("#rf-reload").addEventListener("click", () => rfLoad());
$("#rf-zoom-network").addEventListener("click", () => rfZoomNetwork());
$("#rf-zoom-estimate").addEventListener("click", () => rfZoomEstimate());

function rfSvg(tag, attrs = {}, text) {
  const e = document.createElementNS(RF_SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// "Nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over `span`.
function rfStep(span, n) {
  const raw = span / Math.max(n, 1), p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

// A clock-friendly time tick step (ms): 1, 2, 5, 10, 15, 30 s or min, 1, 2, 3, 6, 12 h, 1, 2, 7 days.
const RF_TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
  43200, 86400, 172800, 604800].map((s) => s * 1000);
function rfTimeStep(span, n) {
  return RF_TIME_STEPS.find((s) => span / s <= n) || RF_TIME_STEPS[RF_TIME_STEPS.length - 1];
}

// Hand-drawn SVG line plot: one series (polyline + points) per receiver, time on x (UTC).
function rfPlot(rows, agg, quantity, truncated) {
  const svg = $("#rf-plot");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = 960, H = 320, L0 = 56, R0 = 12, T0 = 14, B0 = 34;
  const q = RF_QUANTITIES[quantity];
  const field = q[agg], tfield = agg === "hourly" ? "hour" : "time";
  const byRx = new Map();
  for (const r of rows) {
    const v = r[field];
    if (v === null || v === undefined || !Number.isFinite(Number(v))) continue;
    if (!byRx.has(r.receiver_id)) byRx.set(r.receiver_id, []);
    byRx.get(r.receiver_id).push({ t: Date.parse(r[tfield]), v: Number(v) });
  }
  const names = new Map(RF.receivers.map((r) => [r.id, r.name]));
  const all = [...byRx.values()].flat();
  $("#rf-plot-info").textContent = `${all.length} ${agg} points, ${byRx.size} receivers${truncated ? " (truncated: narrow the window)" : ""}`;
  RF.series = [];
  const legend = $("#rf-legend");
  legend.innerHTML = "";
  svg.append(rfSvg("rect", { x: L0, y: T0, width: W - L0 - R0, height: H - T0 - B0, class: "rf-plot-frame" }));
  if (!all.length) {
    svg.append(rfSvg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "rf-plot-empty" }, "no measurements in this window"));
    return;
  }
  let t0 = Math.min(...all.map((p) => p.t)), t1 = Math.max(...all.map((p) => p.t));
  if (t1 - t0 < 60000) { t0 -= 30000; t1 += 30000; }
  let v0 = Math.min(...all.map((p) => p.v)), v1 = Math.max(...all.map((p) => p.v));
  if (v1 - v0 < 1) { v0 -= 0.5; v1 += 0.5; }
  const pad = (v1 - v0) * 0.08;
  v0 -= pad; v1 += pad;
  const X = (t) => L0 + ((t - t0) / (t1 - t0)) * (W - L0 - R0);
  const Y = (v) => H - B0 - ((v - v0) / (v1 - v0)) * (H - T0 - B0);
  const vs = rfStep(v1 - v0, 6);
  for (let v = Math.ceil(v0 / vs) * vs; v <= v1; v += vs) {
    svg.append(rfSvg("line", { x1: L0, x2: W - R0, y1: Y(v), y2: Y(v), class: "rf-grid" }));
    svg.append(rfSvg("text", { x: L0 - 6, y: Y(v) + 4, "text-anchor": "end", class: "rf-tick" }, Number(v.toFixed(6)).toString()));
  }
  const ts = rfTimeStep(t1 - t0, 8);
  const multiDay = t1 - t0 > 86400000;
  for (let t = Math.ceil(t0 / ts) * ts; t <= t1; t += ts) {
    const iso = new Date(t).toISOString();
    svg.append(rfSvg("line", { x1: X(t), x2: X(t), y1: T0, y2: H - B0, class: "rf-grid" }));
    svg.append(rfSvg("text", { x: X(t), y: H - B0 + 16, "text-anchor": "middle", class: "rf-tick" },
      multiDay ? iso.slice(5, 16).replace("T", " ") : iso.slice(11, 19)));
  }
  svg.append(rfSvg("text", { x: 14, y: T0 + (H - T0 - B0) / 2, "text-anchor": "middle", class: "rf-axis",
    transform: `rotate(-90 14 ${T0 + (H - T0 - B0) / 2})` }, q.label));
  svg.append(rfSvg("text", { x: W - R0, y: H - 4, "text-anchor": "end", class: "rf-axis" }, `UTC${agg === "hourly" ? " (hour starts)" : ""}`));
  for (const [rid, pts] of [...byRx.entries()].sort((a, b) => a[0] - b[0])) {
    pts.sort((a, b) => a.t - b.t);
    const colour = rfColour(rid), name = names.get(rid) || `receiver ${rid}`;
    const g = rfSvg("g", { class: "rf-series", "data-receiver-id": rid, "data-name": name });
    g.append(rfSvg("polyline", { points: pts.map((p) => `${X(p.t).toFixed(1)},${Y(p.v).toFixed(1)}`).join(" "),
      fill: "none", stroke: colour, "stroke-width": 2 }));
    for (const p of pts) {
      const c = rfSvg("circle", { cx: X(p.t).toFixed(1), cy: Y(p.v).toFixed(1), r: 3, fill: colour, class: "rf-point",
        "data-time": new Date(p.t).toISOString(), "data-value": p.v });
      c.append(rfSvg("title", {}, `${name} ${new Date(p.t).toISOString()}: ${p.v.toFixed(2)}`));
      g.append(c);
    }
    svg.append(g);
    RF.series.push({ receiver_id: rid, name, points: pts.length });
    legend.append(el("span", { class: "rf-key" }, el("span", { class: "rf-swatch", style: `background:${colour}` }), name));
  }
}

// `argus demo rf` prints …/#rf: open this tab once logged in.
if (location.hash === "#rf") {
  const rfApp = $("#app-view");
  const rfOpen = () => {
    if (!rfApp.hidden) {
      rfObserver.disconnect();
      const b = document.querySelector("nav .tab[data-tab=rf]");
      if (b) b.click();
    }
  };
  const rfObserver = new MutationObserver(rfOpen);
  rfObserver.observe(rfApp, { attributes: true, attributeFilter: ["hidden"] });
  rfOpen();
}
