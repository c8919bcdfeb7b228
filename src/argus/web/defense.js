// Argus console, Defense tab: the live picture from /ws/radar-stream on a Leaflet map drawn
// from vendored Natural Earth TopoJSON (no tiles, nothing from the internet). Plain JavaScript;
// uses state, api, $, el and refreshTokens from console.js.
"use strict";

const DEF = {
  map: null,
  ws: null,
  retry: null,
  geoLoaded: false,
  staticKey: null,
  layers: {},
  truth: new Map(),
  tracks: new Map(),
  trails: new Map(),
  lastFrame: null,
  interceptors: new Map(),
  lastInterceptorPos: new Map(),
  engagements: [],
  ewTimer: null,
  frames: 0,
};

const LEVEL_COLOUR = { none: "#c9d4de", low: "#5ccf7a", medium: "#ffb347", high: "#ff5c5c", critical: "#ff2d8a" };
const LEVEL_RANK = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };
const hms = (iso) => (iso ? String(iso).slice(11, 19) : "");
const tti = (s) => (s === null || s === undefined ? "—" : `${Math.round(s)} s`);

// ---------------------------------------------------------------- tab entry
function defenseShown() {
  if (!DEF.map) initDefenseMap();
  else DEF.map.invalidateSize();
  if (!DEF.ws) connectRadarStream();
  $("#launch-submit").disabled = !state.user || state.user.role === "viewer";
  $("#launch-submit").title = $("#launch-submit").disabled ? "operators and admins only" : "";
  if ($("#launch-submit").disabled && !$("#launch-result").textContent) {
    $("#launch-result").className = "muted";
    $("#launch-result").textContent = "Launching needs an operator or admin login.";
  }
  if (!DEF.ewTimer) {
    refreshEw();
    DEF.ewTimer = setInterval(() => { if (!$("#tab-defense").hidden) refreshEw(); }, 5000);
  }
}

function initDefenseMap() {
  const map = L.map("defense-map", { zoomSnap: 0.25, worldCopyJump: false, preferCanvas: false,
    attributionControl: true }).setView([33.4, -119.5], 6);
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("Natural Earth (public domain)");
  DEF.map = map;
  // The geography has its own pane under the overlays: it loads after the first frame may have
  // drawn the coverage, and one shared SVG would stack the land on top of it.
  map.createPane("geo").style.zIndex = 350;
  for (const name of ["geo", "coverage", "assets", "trails", "truth", "tracks", "interceptors", "detonations"]) {
    DEF.layers[name] = L.layerGroup().addTo(map);
  }
  loadGeography();
}

async function loadGeography() {
  try {
    const [land, countries] = await Promise.all([
      fetch("/static/vendor/world-atlas/land-50m.json").then((r) => r.json()),
      fetch("/static/vendor/world-atlas/countries-50m.json").then((r) => r.json()),
    ]);
    L.geoJSON(topojson.feature(land, land.objects.land), {
      pane: "geo",
      interactive: false,
      style: { className: "geo-land", color: "#5b7083", weight: 1, fillColor: "#1c2a22", fillOpacity: 1 },
    }).addTo(DEF.layers.geo);
    const borders = topojson.mesh(countries, countries.objects.countries, (a, b) => a !== b);
    L.geoJSON(borders, {
      pane: "geo",
      interactive: false,
      style: { className: "geo-border", color: "#6f8190", weight: 0.8, dashArray: "4 3", fill: false },
    }).addTo(DEF.layers.geo);
    DEF.geoLoaded = true;
  } catch (e) {
    $("#def-state").textContent = `map data not loaded: ${e.message}`;
  }
}

// ---------------------------------------------------------------- WebSocket
function connectRadarStream() {
  clearTimeout(DEF.retry);
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/radar-stream`);
  DEF.ws = ws;
  const badge = $("#def-state");
  ws.onopen = () => ws.send(JSON.stringify({ token: state.access }));
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "radar_frame") {
      badge.textContent = "live";
      badge.className = "pill live";
      onFrame(msg);
    } else if (msg.type === "threats") {
      renderThreats(msg.threats);
    } else if (msg.type === "system_status") {
      renderStatus(msg);
    } else if (msg.type === "heartbeat") {
      badge.title = `heartbeat ${msg.time}`;
    } else if (msg.type === "error") {
      badge.textContent = `offline (${msg.status}: ${msg.detail})`;
      badge.className = "pill";
    }
  };
  ws.onclose = async (ev) => {
    if (DEF.ws !== ws) return;
    if (!badge.textContent.startsWith("offline (")) badge.textContent = "offline";
    badge.className = "pill";
    if (ev.code === 4401 && state.refresh && (await refreshTokens())) return connectRadarStream();
    DEF.retry = setTimeout(connectRadarStream, ev.code === 4503 ? 10000 : 3000);
  };
}

// ---------------------------------------------------------------- geometry
function destination(lat, lon, bearingDeg, distM) {
  const R = 6371008.8, d = distM / R, th = (bearingDeg * Math.PI) / 180;
  const p1 = (lat * Math.PI) / 180, l1 = (lon * Math.PI) / 180;
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(th));
  const l2 = l1 + Math.atan2(Math.sin(th) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [(p2 * 180) / Math.PI, (((l2 * 180) / Math.PI + 540) % 360) - 180];
}

function wedge(r) {
  const w = Math.min(Number(r.azimuth_width_deg), 360);
  const pts = w >= 360 ? [] : [[r.lat, r.lon]];
  const a0 = r.azimuth_center_deg - w / 2, n = Math.max(8, Math.ceil(w / 2));
  for (let i = 0; i <= n; i++) pts.push(destination(r.lat, r.lon, a0 + (w * i) / n, r.max_range_m));
  return pts;
}

// ---------------------------------------------------------------- frames
function onFrame(f) {
  DEF.frames += 1;
  DEF.lastFrame = f;
  $("#def-clock").textContent = `sim ${f.time} · cycle ${f.cycle} · ${f.n_detections} detections`;
  drawStatic(f);
  syncMarkers(DEF.truth, DEF.layers.truth, f.truth || [], (t) => t.flight_id, (t) =>
    L.circleMarker([t.lat, t.lon], { radius: 3, className: "truth", color: "#9aa5af", weight: 1, fillColor: "#9aa5af", fillOpacity: 0.8 })
      .bindTooltip(""), (m, t) => m.setTooltipContent(`truth ${t.flight_id}: ${Math.round(t.alt_m / 1000)} km alt`));
  syncMarkers(DEF.tracks, DEF.layers.tracks, f.tracks || [], (t) => t.track_id, (t) =>
    L.circleMarker([t.lat, t.lon], { radius: 6, className: "track", weight: 2, fillOpacity: 0.6 }).bindTooltip(""),
    (m, t) => {
      const c = LEVEL_COLOUR[t.level] || LEVEL_COLOUR.none;
      m.setStyle({ color: c, fillColor: c });
      m.setTooltipContent(`${t.track_id} · ${t.class} (${Number(t.confidence).toFixed(2)}) · ${t.level}` +
        ` · TTI ${tti(t.time_to_impact_s)} · ${Math.round(t.speed_mps)} m/s · ${Math.round(t.alt_m / 1000)} km`);
    });
  updateTrails(f);
  for (const i of f.interceptors || []) DEF.lastInterceptorPos.set(i.interceptor_id, [i.lat, i.lon]);
  syncMarkers(DEF.interceptors, DEF.layers.interceptors, f.interceptors || [], (i) => i.interceptor_id, (i) =>
    L.circleMarker([i.lat, i.lon], { radius: 4, className: "interceptor", color: "#3fe0ff", weight: 2, fillColor: "#3fe0ff", fillOpacity: 1 })
      .bindTooltip(""), (m, i) => m.setTooltipContent(`interceptor ${i.interceptor_id}: ${Math.round(i.alt_m / 1000)} km alt`));
  for (const e of f.engagements || []) onEngagement(e);
  renderStages(f);
}

// The last positions of every track and interceptor (a thin line behind the marker).
function updateTrails(f) {
  const seen = new Set();
  const add = (key, lat, lon, colour) => {
    seen.add(key);
    let t = DEF.trails.get(key);
    if (!t) {
      t = L.polyline([], { className: "trail", color: colour, weight: 1.5, opacity: 0.6, interactive: false }).addTo(DEF.layers.trails);
      DEF.trails.set(key, t);
    }
    t.setStyle({ color: colour });
    const pts = t.getLatLngs();
    pts.push(L.latLng(lat, lon));
    if (pts.length > 240) pts.shift();
    t.setLatLngs(pts);
  };
  for (const t of f.tracks || []) add(`t:${t.track_id}`, t.lat, t.lon, LEVEL_COLOUR[t.level] || LEVEL_COLOUR.none);
  for (const i of f.interceptors || []) add(`i:${i.interceptor_id}`, i.lat, i.lon, "#3fe0ff");
  for (const [k, line] of DEF.trails) {
    if (!seen.has(k)) {
      DEF.layers.trails.removeLayer(line);
      DEF.trails.delete(k);
    }
  }
}

function syncMarkers(index, layer, items, key, make, update) {
  const seen = new Set();
  for (const it of items) {
    const k = key(it);
    seen.add(k);
    let m = index.get(k);
    if (!m) {
      m = make(it).addTo(layer);
      index.set(k, m);
    } else {
      m.setLatLng([it.lat, it.lon]);
    }
    update(m, it);
  }
  for (const [k, m] of index) {
    if (!seen.has(k)) {
      layer.removeLayer(m);
      index.delete(k);
    }
  }
}

function drawStatic(f) {
  const key = JSON.stringify([f.radars, f.batteries, f.assets]);
  if (key === DEF.staticKey) return;
  const first = DEF.staticKey === null;
  DEF.staticKey = key;
  const cov = DEF.layers.coverage, as = DEF.layers.assets;
  cov.clearLayers(); as.clearLayers();
  const bounds = [];
  for (const r of f.radars || []) {
    const pts = wedge(r);
    L.polygon(pts, { className: "radar-wedge", color: "#e0c34a", weight: 1.5, fillColor: "#e0c34a", fillOpacity: 0.06,
      dashArray: r.eccm ? "6 4" : null, interactive: true })
      .bindTooltip(`${r.name}: ${Math.round(r.max_range_m / 1000)} km, azimuth ${r.azimuth_center_deg}° ± ${r.azimuth_width_deg / 2}°${r.eccm ? ", ECCM on" : ""}`)
      .addTo(cov);
    L.circleMarker([r.lat, r.lon], { radius: 5, className: "radar-site", color: "#e0c34a", fillColor: "#e0c34a", fillOpacity: 1 })
      .bindTooltip(r.name).addTo(cov);
    bounds.push([r.lat, r.lon]);
  }
  for (const b of f.batteries || []) {
    L.circle([b.lat, b.lon], { radius: b.max_range_m, className: "battery-range", color: "#b58cff", weight: 1.5, fill: false })
      .bindTooltip(`${b.call_sign}: ${Math.round(b.max_range_m / 1000)} km`).addTo(cov);
    L.circleMarker([b.lat, b.lon], { radius: 5, className: "battery", color: "#b58cff", fillColor: "#b58cff", fillOpacity: 1 })
      .bindTooltip(b.call_sign).addTo(cov);
    bounds.push(destination(b.lat, b.lon, 0, b.max_range_m), destination(b.lat, b.lon, 180, b.max_range_m),
      destination(b.lat, b.lon, 90, b.max_range_m), destination(b.lat, b.lon, 270, b.max_range_m));
  }
  for (const a of f.assets || []) {
    L.circle([a.lat, a.lon], { radius: a.radius_km * 1000, className: "asset", color: "#4ea1ff", weight: 1.5, fillColor: "#4ea1ff", fillOpacity: 0.25 })
      .bindTooltip(a.name, { permanent: true, direction: "right", className: "asset-label" }).addTo(as);
    bounds.push([a.lat, a.lon]);
  }
  if (first && bounds.length) {
    // the defended area and the sea to the south-west, where the demo raid comes from
    bounds.push([31.0, -122.0]);
    DEF.map.fitBounds(bounds, { padding: [20, 20] });
  }
}

// ---------------------------------------------------------------- side panels
function onEngagement(e) {
  let what = e.subject, result = "";
  if (e.subject === "command.intercept") {
    what = "ordered";
    result = `shot ${e.shot || 1}`;
  } else if (e.subject === "interceptor.launched") {
    what = "launched";
  } else if (e.subject === "interceptor.detonation") {
    what = "detonation";
    result = `${e.kill ? "KILL" : "miss"} ${Number(e.miss_distance_m).toFixed(0)} m${e.reason && e.reason !== "proximity" ? ` (${e.reason})` : ""}`;
    const pos = e.lat_deg !== undefined ? [e.lat_deg, e.lon_deg] : DEF.lastInterceptorPos.get(e.interceptor_id);
    if (pos) {
      const c = e.kill ? "#ff3b3b" : "#ffd23f";
      L.circleMarker(pos, { radius: 9, className: `detonation det-flash ${e.kill ? "det-kill" : "det-miss"}`, color: c,
        weight: 3, fillColor: c, fillOpacity: e.kill ? 0.7 : 0 })
        .bindTooltip(`${e.interceptor_id} → ${e.track_id}: ${result} at ${hms(e.time)}`).addTo(DEF.layers.detonations);
      const marks = DEF.layers.detonations.getLayers();
      if (marks.length > 300) DEF.layers.detonations.removeLayer(marks[0]);
    }
    DEF.lastInterceptorPos.delete(e.interceptor_id);
  }
  DEF.engagements.unshift({ time: hms(e.time), what, track: e.track_id || "", battery: e.battery_id || "",
    interceptor: e.interceptor_id || "", result, kill: e.kill });
  DEF.engagements.length = Math.min(DEF.engagements.length, 200);
  const t = $("#def-engagements");
  t.innerHTML = "";
  t.append(el("tr", {}, ...["time", "event", "track", "by", "result"].map((h) => el("th", {}, h))));
  for (const r of DEF.engagements) {
    t.append(el("tr", { class: "engagement" }, el("td", {}, r.time), el("td", {}, r.what), el("td", {}, r.track),
      el("td", {}, [r.battery, r.interceptor].filter(Boolean).join(" / ")),
      el("td", { class: r.kill === true ? "ok" : r.kill === false ? "error" : "" }, r.result)));
  }
}

function renderThreats(threats) {
  const t = $("#def-threats");
  t.innerHTML = "";
  t.append(el("tr", {}, ...["track", "level", "class", "conf", "TTI"].map((h) => el("th", {}, h))));
  const rows = [...threats].sort((a, b) => (LEVEL_RANK[b.level] - LEVEL_RANK[a.level]) || (b.score - a.score));
  if (!rows.length) t.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "no threats")));
  for (const x of rows) {
    const focus = () => {
      const m = DEF.tracks.get(x.track_id);
      if (m) { DEF.map.panTo(m.getLatLng()); m.openTooltip(); }
    };
    t.append(el("tr", { class: "threat clickable", "data-track": x.track_id, onclick: focus }, el("td", {}, x.track_id),
      el("td", { class: `level-${x.level}` }, x.level), el("td", {}, x.class),
      el("td", {}, Number(x.confidence).toFixed(2)), el("td", {}, tti(x.time_to_impact_s))));
  }
}

function renderStages(f) {
  const t = $("#def-stages");
  t.innerHTML = "";
  t.append(el("tr", {}, el("th", {}, "stage"), el("th", {}, "ms")));
  let total = 0;
  for (const [k, v] of Object.entries(f.stage_ms || {})) {
    total += Number(v);
    t.append(el("tr", { class: "stage" }, el("td", {}, k), el("td", {}, Number(v).toFixed(1))));
  }
  t.append(el("tr", {}, el("td", {}, el("strong", {}, "total")), el("td", {}, el("strong", {}, total.toFixed(1)))));
  $("#def-cycle").textContent = `cycle ${f.cycle}`;
}

function renderStatus(s) {
  const p99 = s.p99_cycle_s === null || s.p99_cycle_s === undefined ? "—" : `${(s.p99_cycle_s * 1000).toFixed(0)} ms`;
  $("#def-cycle").title = `running: ${s.running}; scan interval ${s.scan_interval_s} s; p99 cycle ${p99}; ` +
    `${s.n_tracks} tracks, ${s.n_interceptors} interceptors, ${s.flights} flights`;
}

async function refreshEw() {
  let ew;
  try {
    ew = await api("/api/threats/ew-status");
  } catch (e) {
    return;
  }
  const t = $("#def-ew");
  t.innerHTML = "";
  t.append(el("tr", {}, ...["radar", "jammed", "noise rise", "ECCM"].map((h) => el("th", {}, h))));
  for (const s of ew.sites) {
    t.append(el("tr", { class: "ew-site" }, el("td", {}, s.name),
      el("td", { class: s.jammed ? "error" : "ok" }, s.jammed ? "JAMMED" : "clear"),
      el("td", {}, `${Number(s.noise_floor_rise_db).toFixed(1)} dB`), el("td", {}, s.eccm ? "on" : "off")));
  }
  const log = $("#def-ew-log");
  log.innerHTML = "";
  if (ew.responses.length) {
    log.append(el("tr", {}, ...["time", "sensor", "response", "track", "effect"].map((h) => el("th", {}, h))));
    for (const r of ew.responses.slice(0, 30)) {
      log.append(el("tr", { title: r.detail || "" }, el("td", {}, hms(r.time)), el("td", {}, r.sensor_id),
        el("td", {}, r.response === "soft_kill" ? "soft-kill" : r.response), el("td", {}, r.track_id || ""),
        el("td", { class: r.effective ? "ok" : "muted" },
          r.effective === true ? "defeated" : r.effective === false ? "no effect" : "")));
    }
  } else {
    log.append(el("tr", {}, el("td", { class: "muted" }, "no EW responses (no soft-kill, no ECCM switch)")));
  }
}

// ---------------------------------------------------------------- launch
$("#launch-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("#launch-result");
  out.className = "";
  out.textContent = "launching…";
  const f = new FormData(ev.target);
  const body = { lat: Number(f.get("lat")), lon: Number(f.get("lon")), targetLat: Number(f.get("targetLat")),
    targetLon: Number(f.get("targetLon")), missileType: f.get("missileType"), trajectory: f.get("trajectory") };
  try {
    const r = await api("/api/sim/launch", { method: "POST", json: body });
    out.className = "ok";
    out.textContent = `${r.flight_id} (${r.missile_type}) launched at ${hms(r.launched_at)}` +
      (r.impact_at ? `, impact expected ${hms(r.impact_at)}` : "");
  } catch (e) {
    out.className = "error";
    out.textContent = e.status === 403 ? "launch: operators and admins only" : `launch refused: ${e.message}`;
  }
});
