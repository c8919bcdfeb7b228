// Argus console, Transients tab: the validation queue of issue 12. Plain JavaScript, nothing
// from the internet; uses state, api, $, el and refreshTokens from console.js.
//
// One candidate at a time (with the queue as a list beside it): its three cutouts (science,
// reference, difference) from GET /api/astro/candidates/{id}/cutouts/{kind}.png, fetched with
// the Authorization header and shown through blob URLs (an <img src> cannot send the token); its
// scores; and its light curve from GET /api/astro/lightcurve at its sky position, drawn by hand
// on a canvas (no plotting library). Real / Bogus / Label POST a ValidationEvent
// (POST /api/astro/validations) and move on to the next candidate.
// Keys (outside text fields): R real, B bogus, L label, S or → skip, ← previous.
"use strict";

const ASTRO = {
  items: [], // queue items {detection, candidate} as GET /api/astro/validation-queue gives them
  index: 0,
  loaded: false,
  busy: false,
  seq: 0, // bumps on every candidate shown: a slow load for an earlier one is dropped
  blobs: [], // object URLs of the cutouts shown, revoked when replaced
  curve: [], // the light-curve points drawn
};
const ASTRO_QUEUE_LIMIT = 100;
const ASTRO_CUTOUTS = ["science", "reference", "difference"];

// ---------------------------------------------------------------- tab entry
function astroShown() {
  const canWrite = state.user && state.user.role !== "viewer";
  for (const id of ["#astro-real", "#astro-bogus", "#astro-label-btn"]) {
    $(id).disabled = !canWrite;
    $(id).title = canWrite ? $(id).title : "operators and admins only";
  }
  if (!canWrite) $("#astro-status").textContent = "Validating needs an operator or admin login.";
  if (!ASTRO.loaded) loadAstroQueue();
}
window.astroShown = astroShown;

// ---------------------------------------------------------------- fetching
async function astroBlob(path, retry = true) {
  const headers = state.access ? { Authorization: "Bearer " + state.access } : {};
  const r = await fetch(path, { headers });
  if (r.status === 401 && retry && state.refresh && (await refreshTokens())) return astroBlob(path, false);
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(`${path}: ${detail}`);
  }
  return r.blob();
}

async function loadAstroQueue() {
  $("#astro-error").textContent = "";
  const min = Math.min(1, Math.max(0, Number($("#astro-min-score").value) || 0));
  try {
    const q = await api(`/api/astro/validation-queue?limit=${ASTRO_QUEUE_LIMIT}&min_score=${min}`);
    ASTRO.items = q.items;
    ASTRO.loaded = true;
  } catch (e) {
    $("#astro-error").textContent = e.message;
    return;
  }
  ASTRO.index = Math.min(ASTRO.index, Math.max(0, ASTRO.items.length - 1));
  renderAstroList();
  await showAstroCurrent();
}

// ---------------------------------------------------------------- the list
const astroFmt = (x, d = 2) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));

function renderAstroList() {
  const n = ASTRO.items.length;
  $("#astro-count").textContent = n >= ASTRO_QUEUE_LIMIT ? `${n}+ awaiting review` : `${n} awaiting review`;
  const t = $("#astro-list");
  t.innerHTML = "";
  t.append(el("tr", {}, ...["#", "score", "SNR", "flux", "RA", "Dec"].map((h) => el("th", {}, h))));
  ASTRO.items.forEach((it, i) => {
    const c = it.candidate || {}, d = it.detection;
    t.append(el("tr", {
        class: "clickable" + (i === ASTRO.index ? " astro-selected" : ""), "data-detection": d.id,
        onclick: () => { ASTRO.index = i; renderAstroList(); showAstroCurrent(); },
      },
      el("td", {}, i + 1), el("td", { class: d.confidence_score >= 0.5 ? "astro-likely" : "muted" }, astroFmt(d.confidence_score, 3)),
      el("td", {}, astroFmt(c.snr, 1)), el("td", {}, astroFmt(c.flux, 1)),
      el("td", {}, astroFmt(d.ra, 4)), el("td", {}, astroFmt(d.dec, 4))));
  });
}

// ---------------------------------------------------------------- one candidate
function astroSexagesimal(deg, hours) {
  const sign = deg < 0 ? "-" : hours ? "" : "+";
  let v = Math.abs(deg) / (hours ? 15 : 1);
  const a = Math.floor(v); v = (v - a) * 60;
  const b = Math.floor(v); const s = (v - b) * 60;
  const pad = (x, w) => String(x).padStart(w, "0");
  return `${sign}${pad(a, 2)}${hours ? "h" : "°"}${pad(b, 2)}${hours ? "m" : "′"}${s.toFixed(hours ? 2 : 1).padStart(hours ? 5 : 4, "0")}${hours ? "s" : "″"}`;
}

function renderAstroScores(it) {
  const c = it.candidate, d = it.detection;
  const rows = [
    ["real/bogus score", `${astroFmt(d.confidence_score, 3)} (${d.detection_type}${d.model_version ? ", model " + d.model_version : ""})`],
  ];
  if (c) {
    const flags = [c.is_saturated && "saturated", c.is_blended && "blended", c.is_edge && "edge"].filter(Boolean);
    rows.push(
      ["SNR", astroFmt(c.snr, 1)],
      ["flux", `${astroFmt(c.flux, 1)} ± ${astroFmt(c.flux_error, 1)} ADU (${c.sign > 0 ? "brightening" : "fading"})`],
      ["RA, Dec", `${astroFmt(c.ra, 6)}°, ${astroFmt(c.dec, 6)}°`],
      ["", `${astroSexagesimal(c.ra, true)} ${astroSexagesimal(c.dec, false)}`],
      ["pixel x, y", `${astroFmt(c.pixel_x, 1)}, ${astroFmt(c.pixel_y, 1)}`],
      ["FWHM, ellipticity", `${astroFmt(c.fwhm, 2)} px, ${astroFmt(c.ellipticity, 2)}`],
      ["flags", flags.length ? flags.join(", ") : "none"],
    );
  }
  const t = $("#astro-scores");
  t.innerHTML = "";
  for (const [k, v] of rows) t.append(el("tr", {}, el("th", {}, k), el("td", {}, v)));
}

async function astroLoadCutout(kind, candidateId, seq) {
  const img = $(`#astro-cut-${kind}`);
  const blob = await astroBlob(`/api/astro/candidates/${candidateId}/cutouts/${kind}.png?size=63&scale=3`);
  if (seq !== ASTRO.seq) return;
  const url = URL.createObjectURL(blob);
  ASTRO.blobs.push(url);
  await new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error(`${kind} cutout: not an image`));
    img.src = url;
  });
}

async function showAstroCurrent() {
  const seq = ++ASTRO.seq;
  const box = $("#astro-current");
  for (const u of ASTRO.blobs) URL.revokeObjectURL(u);
  ASTRO.blobs = [];
  for (const k of ASTRO_CUTOUTS) $(`#astro-cut-${k}`).removeAttribute("src");
  $("#astro-error").textContent = "";
  const it = ASTRO.items[ASTRO.index];
  $("#astro-empty").hidden = !!it;
  box.classList.toggle("astro-none", !it);
  if (!it) {
    box.dataset.state = "empty";
    delete box.dataset.detection;
    $("#astro-title").textContent = "No candidate";
    $("#astro-scores").innerHTML = "";
    drawAstroCurve([], null);
    $("#astro-lc-note").textContent = "";
    return;
  }
  box.dataset.state = "loading";
  box.dataset.detection = it.detection.id;
  $("#astro-title").textContent = `Candidate ${ASTRO.index + 1} of ${ASTRO.items.length}`;
  renderAstroScores(it);
  const c = it.candidate;
  const jobs = [];
  if (c) {
    for (const k of ASTRO_CUTOUTS) jobs.push(astroLoadCutout(k, c.id, seq));
    jobs.push(api(`/api/astro/lightcurve?ra=${c.ra}&dec=${c.dec}&radius_arcsec=1.5`).then((lc) => {
      if (seq === ASTRO.seq) drawAstroCurve(lc.points, c.id);
    }));
  } else {
    drawAstroCurve([], null);
  }
  try {
    await Promise.all(jobs);
    if (seq === ASTRO.seq) box.dataset.state = "ready";
  } catch (e) {
    if (seq !== ASTRO.seq) return;
    box.dataset.state = "error";
    $("#astro-error").textContent = e.message;
  }
}

// ---------------------------------------------------------------- the light curve
// Drawn by hand on the canvas (no chart library): difference flux against MJD, 1-sigma error
// bars, zero line, the candidate under review ringed.
function drawAstroCurve(points, currentId) {
  const cv = $("#astro-lightcurve");
  const ctx = cv.getContext("2d");
  ASTRO.curve = points;
  cv.dataset.points = String(points.length);
  ctx.clearRect(0, 0, cv.width, cv.height);
  const L = 62, R = 14, T = 22, B = 34, w = cv.width - L - R, h = cv.height - T - B;
  ctx.font = "11px sans-serif";
  ctx.fillStyle = "#8b98a5";
  ctx.fillText(`light curve: ${points.length} point${points.length === 1 ? "" : "s"} within 1.5″ (difference flux, ADU)`, L, 14);
  $("#astro-lc-note").textContent = points.length
    ? `${points.length} observation${points.length === 1 ? "" : "s"}, MJD ${points[0].mjd.toFixed(3)}` +
      (points.length > 1 ? ` – ${points[points.length - 1].mjd.toFixed(3)}` : "")
    : "No earlier or later detection at this position.";
  if (!points.length) return;
  const xs = points.map((p) => p.mjd);
  const lo = points.map((p) => p.flux - (p.flux_error || 0)), hi = points.map((p) => p.flux + (p.flux_error || 0));
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x1 - x0 < 1e-6) { x0 -= 0.5; x1 += 0.5; }
  const padX = (x1 - x0) * 0.06; x0 -= padX; x1 += padX;
  let y0 = Math.min(0, ...lo), y1 = Math.max(0, ...hi);
  if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
  const padY = (y1 - y0) * 0.08; y0 -= padY; y1 += padY;
  const X = (v) => L + ((v - x0) / (x1 - x0)) * w;
  const Y = (v) => T + h - ((v - y0) / (y1 - y0)) * h;
  // axes, ticks and the zero line
  ctx.strokeStyle = "#2b3640"; ctx.lineWidth = 1;
  ctx.strokeRect(L, T, w, h);
  for (let i = 0; i <= 4; i++) {
    const vy = y0 + ((y1 - y0) * i) / 4, vx = x0 + ((x1 - x0) * i) / 4;
    ctx.beginPath(); ctx.moveTo(L, Y(vy)); ctx.lineTo(L + w, Y(vy)); ctx.stroke();
    ctx.fillText(vy.toPrecision(3), 4, Y(vy) + 4);
    ctx.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
    ctx.fillText(vx.toFixed(2), X(vx), T + h + 14);
    ctx.textAlign = "left";
  }
  ctx.fillText("MJD", L + w / 2 - 10, cv.height - 4);
  ctx.strokeStyle = "#5c6b78"; ctx.setLineDash([4, 3]);
  ctx.beginPath(); ctx.moveTo(L, Y(0)); ctx.lineTo(L + w, Y(0)); ctx.stroke(); ctx.setLineDash([]);
  // the points joined in time order, with error bars
  ctx.strokeStyle = "rgba(78,161,255,0.5)";
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(X(p.mjd), Y(p.flux)) : ctx.moveTo(X(p.mjd), Y(p.flux))));
  ctx.stroke();
  for (const p of points) {
    const px = X(p.mjd), py = Y(p.flux);
    if (p.flux_error) {
      ctx.strokeStyle = "#8b98a5";
      ctx.beginPath(); ctx.moveTo(px, Y(p.flux - p.flux_error)); ctx.lineTo(px, Y(p.flux + p.flux_error)); ctx.stroke();
    }
    ctx.fillStyle = p.sign > 0 ? "#4ea1ff" : "#ffb347";
    ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI); ctx.fill();
    if (p.candidate_id === currentId) {
      ctx.strokeStyle = "#e6edf3"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke(); ctx.lineWidth = 1;
    }
  }
}

// ---------------------------------------------------------------- decisions
async function astroDecide(decision) {
  const it = ASTRO.items[ASTRO.index];
  if (!it || ASTRO.busy) return;
  const body = { detection_id: it.detection.id, decision, confidence_level: $("#astro-confidence").value };
  if (decision === "label") {
    const label = $("#astro-label").value.trim() || $("#astro-label-pick").value;
    if (!label) return;
    body.label = label;
  }
  ASTRO.busy = true;
  $("#astro-error").textContent = "";
  try {
    await api("/api/astro/validations", { method: "POST", json: body });
  } catch (e) {
    $("#astro-error").textContent = e.message;
    return;
  } finally {
    ASTRO.busy = false;
  }
  $("#astro-status").textContent = `${decision}${body.label ? " (" + body.label + ")" : ""} recorded for ${it.detection.id.slice(0, 8)}`;
  if (decision === "label") {
    // a label keeps the detection in the queue: note it and go on
    it.detection.human_label = body.label;
    $("#astro-label").value = "";
    return astroStep(1);
  }
  ASTRO.items.splice(ASTRO.index, 1);
  if (ASTRO.index >= ASTRO.items.length) ASTRO.index = Math.max(0, ASTRO.items.length - 1);
  if (!ASTRO.items.length) return loadAstroQueue(); // more may be waiting beyond the page
  renderAstroList();
  await showAstroCurrent();
}

function astroStep(delta) {
  if (!ASTRO.items.length) return;
  ASTRO.index = (ASTRO.index + delta + ASTRO.items.length) % ASTRO.items.length;
  renderAstroList();
  return showAstroCurrent();
}

$("#astro-real").addEventListener("click", () => astroDecide("real"));
$("#astro-bogus").addEventListener("click", () => astroDecide("bogus"));
$("#astro-label-btn").addEventListener("click", () => astroDecide("label"));
$("#astro-skip").addEventListener("click", () => astroStep(1));
$("#astro-prev").addEventListener("click", () => astroStep(-1));
$("#astro-refresh").addEventListener("click", () => loadAstroQueue());
$("#astro-min-score").addEventListener("change", () => { ASTRO.index = 0; loadAstroQueue(); });
$("#astro-show-list").addEventListener("change", (ev) => { $("#astro-list-box").hidden = !ev.target.checked; });

document.addEventListener("keydown", (ev) => {
  if ($("#tab-astro").hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const tag = (ev.target && ev.target.tagName) || "";
  if (["INPUT", "SELECT", "TEXTAREA"].includes(tag)) return;
  const key = ev.key.toLowerCase();
  const canWrite = state.user && state.user.role !== "viewer";
  if (key === "r" && canWrite) astroDecide("real");
  else if (key === "b" && canWrite) astroDecide("bogus");
  else if (key === "l" && canWrite) astroDecide("label");
  else if (key === "s" || ev.key === "ArrowRight") astroStep(1);
  else if (ev.key === "ArrowLeft") astroStep(-1);
  else return;
  ev.preventDefault();
});
