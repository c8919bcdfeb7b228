// Argus operator console: plain JavaScript, no CDN, no map tiles. The Defense tab (defense.js)
// uses the vendored Leaflet and Natural Earth files under /static/vendor (see its README.md).
"use strict";

const state = {
  access: sessionStorage.getItem("argus.access"),
  refresh: sessionStorage.getItem("argus.refresh"),
  user: null,
  scenarioId: null,
  scenario: null,
  assets: [],
  tracks: [],
  weapons: [],
  ranking: null,
  params: null,
  ws: null,
  wsRetry: null,
};

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const fmt = (x, d = 2) => (x === null || x === undefined ? "∞" : Number(x).toFixed(d));
const level = (s) => (s >= 0.7 ? "level-high" : s >= 0.4 ? "level-mid" : "level-low");

// ---------------------------------------------------------------- API
async function api(path, opts = {}, retry = true) {
  const headers = Object.assign({}, opts.headers || {});
  if (state.access) headers["Authorization"] = "Bearer " + state.access;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
  }
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  if (r.status === 401 && retry && state.refresh) {
    if (await refreshTokens()) return api(path, opts, false);
  }
  const type = r.headers.get("content-type") || "";
  const body = type.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const err = new Error((body && body.detail) || r.statusText);
    err.status = r.status;
    err.body = body;
    throw err;
  }
  return body;
}

async function refreshTokens() {
  try {
    const r = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: state.refresh }),
    });
    if (!r.ok) return false;
    storeTokens(await r.json());
    return true;
  } catch (e) {
    return false;
  }
}

function storeTokens(t) {
  state.access = t.access_token;
  state.refresh = t.refresh_token;
  sessionStorage.setItem("argus.access", t.access_token);
  sessionStorage.setItem("argus.refresh", t.refresh_token);
}

// ---------------------------------------------------------------- login
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  const form = new URLSearchParams({ username: $("#login-user").value, password: $("#login-password").value });
  const r = await fetch("/api/auth/login", { method: "POST", body: form });
  const body = await r.json();
  if (!r.ok) {
    $("#login-error").textContent = body.detail || "login failed";
    return;
  }
  storeTokens(body);
  await start();
});

$("#logout").addEventListener("click", () => {
  sessionStorage.clear();
  location.reload();
});

async function start() {
  try {
    state.user = await api("/api/auth/me");
  } catch (e) {
    $("#login-view").hidden = false;
    $("#app-view").hidden = true;
    return;
  }
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#whoami").textContent = `${state.user.username} (${state.user.role})`;
  const scenarios = (await api("/api/scenarios?limit=1000")).items;
  const sel = $("#scenario-select");
  sel.innerHTML = "";
  for (const s of scenarios) sel.append(el("option", { value: s.id }, s.name));
  if (scenarios.length) await selectScenario(Number(sel.value));
}

$("#scenario-select").addEventListener("change", (ev) => selectScenario(Number(ev.target.value)));

async function selectScenario(id) {
  state.scenarioId = id;
  state.scenario = await api(`/api/scenarios/${id}`);
  await Promise.all([loadAssets(), loadTracks(), loadWeapons(), loadRanking(), loadParams()]);
  fillBreakdownSelectors();
  connectLive();
  drawMap();
}

async function loadAssets() {
  state.assets = await api(`/api/scenarios/${state.scenarioId}/assets`);
  renderAssets();
}
async function loadTracks() {
  state.tracks = (await api(`/api/scenarios/${state.scenarioId}/tracks?limit=1000`)).items;
}
async function loadWeapons() {
  state.weapons = await api(`/api/scenarios/${state.scenarioId}/weapons`);
}
async function loadRanking() {
  const r = await api(`/api/tewa/ranking/?scenario_id=${state.scenarioId}`);
  const perDa = {};
  for (const a of state.assets) {
    perDa[a.id] = (await api(`/api/tewa/ranking/?scenario_id=${state.scenarioId}&da_id=${a.id}`)).results;
  }
  renderBoard({ global: r.results, per_da: perDa, computed_at: r.results.length ? r.results[0].computed_at : null });
}

// ---------------------------------------------------------------- live updates
function connectLive() {
  if (state.ws) state.ws.close();
  clearTimeout(state.wsRetry);
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/threats?scenario_id=${state.scenarioId}`);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ token: state.access }));
  ws.onmessage = async (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "ranking") {
      $("#live-state").textContent = "live";
      $("#live-state").className = "pill live";
      renderBoard(msg);
      drawMap();
    } else if (msg.type === "error") {
      $("#live-state").textContent = `offline (${msg.detail})`;
    }
  };
  ws.onclose = async (ev) => {
    $("#live-state").textContent = "offline";
    $("#live-state").className = "pill";
    if (state.ws !== ws) return;
    // 4401: the access token expired (or was refused): refresh it, then reconnect at once
    if (ev.code === 4401 && state.refresh && (await refreshTokens())) return connectLive();
    state.wsRetry = setTimeout(connectLive, 3000);
  };
}

// ---------------------------------------------------------------- board
function rankTable(rows, withDa) {
  const head = el("tr", {}, ...["#", "Track", withDa ? "DA" : "", "Score", "CPA km", "TCPA s", "TDB km", "TWRP s"]
    .filter((h) => h !== "").map((h) => el("th", {}, h)));
  const body = rows.map((r) => el("tr", {
      class: "clickable", "data-track": r.track_id,
      onclick: () => openBreakdown(r.track_id, r.da_id),
    },
    el("td", {}, r.rank), el("td", {}, r.track_id), ...(withDa ? [el("td", {}, r.da_name)] : []),
    el("td", { class: level(r.score) }, fmt(r.score, 3)), el("td", {}, fmt(r.cpa_km)),
    el("td", {}, fmt(r.tcpa_s, 0)), el("td", {}, fmt(r.tdb_km)), el("td", {}, fmt(r.twrp_s, 0))));
  return [head, ...body];
}

function renderBoard(msg) {
  state.ranking = msg;
  const g = $("#board-global");
  g.innerHTML = "";
  if (!msg.global.length) g.append(el("tr", {}, el("td", {}, "No scores yet: press Compute now.")));
  else g.append(...rankTable(msg.global, true));
  const per = $("#board-per-da");
  per.innerHTML = "";
  for (const a of state.assets) {
    const rows = (msg.per_da && msg.per_da[a.id]) || [];
    per.append(el("h2", {}, `${a.name}`));
    const t = el("table", { class: "board", id: `board-da-${a.id}` });
    t.append(...rankTable(rows, false));
    per.append(t);
  }
  $("#board-stamp").textContent = msg.computed_at ? `computed ${msg.computed_at}` : "";
}

$("#compute-now").addEventListener("click", async () => {
  try {
    await api("/api/tewa/compute_now/", { method: "POST", json: { scenario_id: state.scenarioId } });
    await loadRanking();
  } catch (e) {
    alert(e.message);
  }
});

// ---------------------------------------------------------------- tabs
document.querySelectorAll("nav .tab").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
function showTab(name) {
  document.querySelectorAll("nav .tab").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tabpane").forEach((p) => (p.hidden = p.id !== `tab-${name}`));
  if (name === "map") drawMap();
  if (name === "defense") defenseShown();
  // other panes (astro.js, rf.js) define window.<name>Shown to load when first shown
  const hook = name !== "defense" ? window[`${name}Shown`] : undefined;
  if (typeof hook === "function") hook();
}

// ---------------------------------------------------------------- map (canvas, local projection)
function projection(canvas, points) {
  const lats = points.map((p) => p[0]), lons = points.map((p) => p[1]);
  const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2, lon0 = (Math.min(...lons) + Math.max(...lons)) / 2;
  const k = Math.cos((lat0 * Math.PI) / 180);
  const xs = lons.map((l) => (l - lon0) * k), ys = lats.map((l) => l - lat0);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 0.5) * 1.25;
  const scale = Math.min(canvas.width, canvas.height) / span;
  const cx = canvas.width / 2, cy = canvas.height / 2;
  return {
    toXY: (lat, lon) => [cx + (lon - lon0) * k * scale, cy - (lat - lat0) * scale],
    pxPerKm: scale / 111.32,
    bounds: { lat0, lon0, dLat: canvas.height / scale / 2, dLon: canvas.width / scale / k / 2 },
  };
}

async function drawMap() {
  const c = $("#map-canvas");
  if (!c || !state.scenarioId || $("#tab-map").hidden) return;
  const ctx = c.getContext("2d");
  const pic = await api(`/api/scenarios/${state.scenarioId}/picture`);
  const tracks = pic.tracks.filter((t) => t.lat !== null);
  ctx.clearRect(0, 0, c.width, c.height);
  const pts = [...state.assets.map((a) => [a.lat, a.lon]), ...tracks.map((t) => [t.lat, t.lon]),
               ...state.weapons.map((w) => [w.lat, w.lon])];
  if (!pts.length) return;
  const P = projection(c, pts);
  // grid
  ctx.strokeStyle = "#1f2a33"; ctx.fillStyle = "#5c6b78"; ctx.font = "11px sans-serif"; ctx.lineWidth = 1;
  const step = P.bounds.dLat > 2 ? 1 : P.bounds.dLat > 0.8 ? 0.5 : 0.25;
  for (let lat = Math.floor((P.bounds.lat0 - P.bounds.dLat) / step) * step; lat <= P.bounds.lat0 + P.bounds.dLat; lat += step) {
    const [, y] = P.toXY(lat, P.bounds.lon0);
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(c.width, y); ctx.stroke(); ctx.fillText(`${lat.toFixed(2)}°N`, 4, y - 2);
  }
  for (let lon = Math.floor((P.bounds.lon0 - P.bounds.dLon) / step) * step; lon <= P.bounds.lon0 + P.bounds.dLon; lon += step) {
    const [x] = P.toXY(P.bounds.lat0, lon);
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, c.height); ctx.stroke(); ctx.fillText(`${lon.toFixed(2)}°E`, x + 2, c.height - 4);
  }
  const wr = state.params ? state.params.weapon_range_km : 20;
  for (const a of state.assets) {
    const [x, y] = P.toXY(a.lat, a.lon);
    ctx.fillStyle = "rgba(78,161,255,0.18)"; ctx.strokeStyle = "#4ea1ff";
    ctx.beginPath(); ctx.arc(x, y, a.radius_km * P.pxPerKm, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    ctx.setLineDash([6, 4]); ctx.beginPath(); ctx.arc(x, y, (a.weapon_range_km || wr) * P.pxPerKm, 0, 2 * Math.PI); ctx.stroke();
    ctx.setLineDash([]); ctx.fillStyle = "#cfe3ff"; ctx.fillText(a.name, x + 6, y - 6);
  }
  for (const w of state.weapons) {
    const [x, y] = P.toXY(w.lat, w.lon);
    ctx.fillStyle = "#b58cff"; ctx.strokeStyle = "rgba(181,140,255,0.5)";
    ctx.beginPath(); ctx.moveTo(x, y - 7); ctx.lineTo(x - 6, y + 5); ctx.lineTo(x + 6, y + 5); ctx.closePath(); ctx.fill();
    ctx.beginPath(); ctx.arc(x, y, w.max_range_km * P.pxPerKm, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillText(w.call_sign, x + 8, y + 12);
  }
  const scoreOf = {};
  if (state.ranking) for (const r of state.ranking.global) scoreOf[r.track_id] = r.score;
  for (const t of tracks) {
    const color = t.iff === "friendly" ? "#5ccf7a" : scoreOf[t.track_id] >= 0.7 ? "#ff5c5c" : scoreOf[t.track_id] >= 0.4 ? "#ffb347" : "#e6edf3";
    ctx.strokeStyle = color; ctx.fillStyle = color;
    ctx.globalAlpha = 0.5; ctx.beginPath();
    t.trail.forEach((p, i) => { const [x, y] = P.toXY(p[0], p[1]); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
    ctx.stroke(); ctx.globalAlpha = 1;
    const [x, y] = P.toXY(t.lat, t.lon);
    ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill();
    const h = (t.heading_deg * Math.PI) / 180, len = (t.speed_mps * 60) / 1000 * P.pxPerKm;
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + Math.sin(h) * len, y - Math.cos(h) * len); ctx.stroke();
    ctx.fillText(`${t.track_id}${scoreOf[t.track_id] !== undefined ? " " + scoreOf[t.track_id].toFixed(2) : ""}`, x + 6, y + 4);
  }
  ctx.fillStyle = "#8b98a5";
  ctx.fillText(`picture at ${pic.at}`, c.width - 260, 16);
}

// ---------------------------------------------------------------- breakdown
function fillBreakdownSelectors() {
  const ts = $("#bd-track"), ds = $("#bd-da");
  ts.innerHTML = ""; ds.innerHTML = "";
  for (const t of state.tracks) ts.append(el("option", { value: t.track_id }, t.track_id));
  for (const a of state.assets) ds.append(el("option", { value: a.id }, a.name));
}
$("#bd-load").addEventListener("click", () => openBreakdown($("#bd-track").value, Number($("#bd-da").value)));

async function openBreakdown(trackId, daId) {
  showTab("breakdown");
  $("#bd-track").value = trackId; $("#bd-da").value = daId;
  const q = `scenario_id=${state.scenarioId}&track_id=${encodeURIComponent(trackId)}&da_id=${daId}`;
  const box = $("#bd-summary");
  box.innerHTML = "";
  let b;
  try {
    b = await api(`/api/tewa/score_breakdown/?${q}`);
  } catch (e) {
    box.append(el("p", { class: "error" }, e.message));
    return;
  }
  box.append(el("h2", {}, `${trackId} → ${state.assets.find((a) => a.id === daId).name}: `,
    el("span", { class: level(b.score), id: "bd-score" }, fmt(b.score, 3))));
  box.append(el("p", { class: "muted" }, `computed ${b.computed_at}; CPA ${fmt(b.cpa_km)} km, TCPA ${fmt(b.tcpa_s, 0)} s, TDB ${fmt(b.tdb_km)} km, TWRP ${fmt(b.twrp_s, 0)} s`));
  const bars = el("div", { class: "bars" });
  for (const k of ["cpa", "tcpa", "tdb", "twrp"]) {
    const contrib = b.contributions[k];
    bars.append(el("span", {}, `${k.toUpperCase()} (w ${b.weights[k]})`),
      el("div", {}, el("div", { class: "bar", style: `width:${Math.min(100, contrib * 100)}%` })),
      el("span", {}, `${fmt(b[`n_${k}`], 3)} → ${fmt(contrib, 3)}`));
  }
  box.append(bars);
  const h = await api(`/api/tewa/score_history/?${q}`);
  plotHistory($("#bd-history"), h.results);
}

function plotHistory(c, rows) {
  const ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  const pad = 40;
  ctx.strokeStyle = "#2b3640"; ctx.fillStyle = "#8b98a5"; ctx.font = "11px sans-serif";
  for (let v = 0; v <= 1.0001; v += 0.25) {
    const y = c.height - pad - v * (c.height - 2 * pad);
    ctx.beginPath(); ctx.moveTo(pad, y); ctx.lineTo(c.width - 10, y); ctx.stroke(); ctx.fillText(v.toFixed(2), 6, y + 4);
  }
  if (!rows.length) return;
  const ts = rows.map((r) => Date.parse(r.computed_at));
  const t0 = Math.min(...ts), t1 = Math.max(...ts) || t0 + 1;
  const X = (t) => pad + ((t - t0) / Math.max(t1 - t0, 1)) * (c.width - pad - 10);
  const Y = (v) => c.height - pad - Math.min(v, 1.2) * (c.height - 2 * pad);
  ctx.strokeStyle = "#4ea1ff"; ctx.lineWidth = 2; ctx.beginPath();
  rows.forEach((r, i) => (i ? ctx.lineTo(X(ts[i]), Y(r.score)) : ctx.moveTo(X(ts[i]), Y(r.score))));
  ctx.stroke(); ctx.lineWidth = 1;
  ctx.fillStyle = "#8b98a5";
  ctx.fillText(new Date(t0).toISOString().slice(11, 19) + "Z", pad, c.height - 12);
  ctx.fillText(new Date(t1).toISOString().slice(11, 19) + "Z", c.width - 80, c.height - 12);
  ctx.fillText(`score history (${rows.length} points)`, pad + 4, 16);
}

// ---------------------------------------------------------------- scenario editor
function renderAssets() {
  const t = $("#assets-table");
  t.innerHTML = "";
  t.append(el("tr", {}, ...["name", "lat", "lon", "radius km", "value"].map((h) => el("th", {}, h))));
  for (const a of state.assets) t.append(el("tr", {}, el("td", {}, a.name), el("td", {}, a.lat), el("td", {}, a.lon),
    el("td", {}, a.radius_km), el("td", {}, a.value)));
}

$("#asset-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#asset-error").textContent = "";
  const f = new FormData(ev.target);
  const body = { name: f.get("name"), lat: Number(f.get("lat")), lon: Number(f.get("lon")),
    radius_km: Number(f.get("radius_km")), value: Number(f.get("value") || 1) };
  try {
    const da = await api("/api/assets", { method: "POST", json: body });
    await api(`/api/scenarios/${state.scenarioId}/assets`, { method: "PUT",
      json: { da_ids: [...state.assets.map((a) => a.id), da.id] } });
    ev.target.reset();
    await loadAssets();
    fillBreakdownSelectors();
  } catch (e) {
    $("#asset-error").textContent = e.message;
  }
});

const PARAM_FIELDS = ["w_cpa", "w_tcpa", "w_tdb", "w_twrp", "cpa_scale_km", "tcpa_scale_s", "tdb_scale_km",
  "twrp_scale_s", "weapon_range_km"];

async function loadParams() {
  state.params = await api(`/api/scenarios/${state.scenarioId}/params`);
  const f = $("#params-form");
  f.innerHTML = "";
  for (const k of PARAM_FIELDS) f.append(el("label", {}, k, el("input", { name: k, type: "number", step: "any", value: state.params[k] })));
  const admin = state.user.role === "admin";
  f.append(el("button", { type: "submit", class: admin ? "" : "secondary" }, admin ? "Save parameters" : "Save (admin only)"));
  $("#doctrine").textContent = state.params.doctrine;
  const presets = await api("/api/tewa/presets/");
  const ps = $("#preset-select");
  ps.innerHTML = "";
  for (const name of Object.keys(presets)) ps.append(el("option", { value: name }, name));
}

$("#params-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#params-error").textContent = "";
  const body = {};
  for (const k of PARAM_FIELDS) body[k] = Number(ev.target.elements[k].value);
  try {
    await api(`/api/scenarios/${state.scenarioId}/params`, { method: "PUT", json: body });
    await loadParams();
  } catch (e) {
    $("#params-error").textContent = e.message;
  }
});

$("#preset-apply").addEventListener("click", async () => {
  $("#params-error").textContent = "";
  try {
    await api(`/api/scenarios/${state.scenarioId}/params/preset`, { method: "POST", json: { preset: $("#preset-select").value } });
    await loadParams();
  } catch (e) {
    $("#params-error").textContent = e.message;
  }
});

$("#upload-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const fd = new FormData();
  fd.append("file", $("#upload-file").files[0]);
  fd.append("partial", $("#upload-partial").checked ? "true" : "false");
  const out = $("#upload-result"), table = $("#upload-errors");
  out.textContent = ""; table.innerHTML = "";
  const showErrors = (errors) => {
    if (!errors || !errors.length) return;
    table.append(el("tr", {}, ...["line", "column", "value", "reason"].map((h) => el("th", {}, h))));
    for (const e of errors) table.append(el("tr", { class: "row-error" }, el("td", {}, e.line), el("td", {}, e.column),
      el("td", {}, e.value), el("td", {}, e.reason)));
  };
  try {
    const r = await api(`/api/scenarios/${state.scenarioId}/tracks/upload`, { method: "POST", body: fd });
    out.textContent = `${r.inserted} samples imported, ${r.already_present} already present, ${r.rows_rejected} rejected; ${r.tracks_created} tracks created.`;
    showErrors(r.errors);
    await loadTracks();
    fillBreakdownSelectors();
  } catch (e) {
    out.className = "error";
    out.textContent = e.message;
    showErrors(e.body && e.body.errors);
  }
});

// ---------------------------------------------------------------- assignment
$("#assign-run").addEventListener("click", async () => {
  const t = $("#assign-table"), s = $("#assign-summary");
  t.innerHTML = ""; s.textContent = "";
  try {
    const at = $("#assign-at").value.trim();
    const body = { scenario_id: state.scenarioId, solver: $("#assign-solver").value };
    if (at) body.at = at;
    const p = await api("/api/tewa/assign/", { method: "POST", json: body });
    t.append(el("tr", {}, ...["Weapon", "Target", "DA", "Rounds", "P(kill)", "Value saved", "Intercept s"].map((h) => el("th", {}, h))));
    for (const l of p.lines) t.append(el("tr", {}, el("td", {}, l.weapon), el("td", {}, l.target), el("td", {}, l.da_name),
      el("td", {}, l.rounds), el("td", {}, fmt(l.kill_probability, 3)), el("td", {}, fmt(l.expected_value_saved, 3)),
      el("td", {}, fmt(l.intercept_time_s, 0))));
    s.textContent = `Plan at ${p.at}. Expected value saved ${fmt(p.objective, 3)} (bound ${fmt(p.upper_bound, 3)}), solver ${p.solver}` +
      `${p.proven_optimal ? ", proven optimal" : ""}. Hostile not engaged: ${p.unassigned_hostile.join(", ") || "none"}.` +
      ` Not engageable: ${p.not_engageable.join(", ") || "none"}.`;
  } catch (e) {
    s.textContent = e.message;
  }
});

start();
