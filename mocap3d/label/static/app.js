// mocap3d label: the page. Talks to mocap3d/label/server.py.
//
// Every change of a label is an *edit batch* put in the outbox (kept in localStorage, so a reload loses
// nothing) and sent in order as one POST /api/labels, naming the revision of each file it was made on.
// A batch the server cannot be reached for stays queued: the points show NOT SAVED and the page retries
// until the server answers. Undo/redo history, the frame and the body part are kept in localStorage too.
"use strict";

const EPIPOLAR_COLOR = "#ff00ff";  // tests look for this colour where the calibration puts the curve
const FLAG_COLOR = "#ff3030";
const HIT_RADIUS = 7;  // screen px from a marker's centre that grab it, at any zoom
const PAN_THRESHOLD = 4;  // screen px of movement that turn a press on empty image into a pan
const RETRY_MS = [300, 600, 1000, 2000];  // waits between tries while the server cannot be reached
const HISTORY_MAX = 500;

const S = {
  info: null,
  frameIndex: 0,
  frame: null,
  geometry: null,
  progress: null,
  bp: 0,
  ind: 0,
  hidden: false,
  mode: "sequential",  // sequential: a placed body part moves on to the next one; stay: it does not
  link: false,  // zoom and pan of one view applied to every view
  views: [],  // per view of the current frame: {el, canvas, head, img, scale, ox, oy}
  revisions: {},  // video index -> revision of its label file this page's edits build on
  outbox: [],  // edit batches not yet confirmed by the server: {id, edits: [{video, image, individual, bodypart, xy}]}
  inflight: null,  // id of the batch being sent
  online: true,
  failing: false,
  history: {undo: [], redo: []},
  drag: null,
  hover: null,
  nextId: 1,
  busy: 0,  // actions still fetching before they commit (copy previous, undo on another frame)
};

// ------------------------------------------------------------------ helpers

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const key = (video, image, ind, bp) => `${video}|${image}|${ind}|${bp}`;
const bpName = (k) => S.info.bodyparts[k];

function color(k, ind = S.ind) {
  // golden-angle hues: neighbouring body parts differ by 137.5 degrees; each individual gets its own set
  const hue = (k * 137.508 + ind * 41) % 360;
  const light = [58, 70, 48][k % 3];
  return `hsl(${hue.toFixed(1)}, ${ind % 2 ? 70 : 95}%, ${light}%)`;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    return {status: 0, ok: false, network: true,
      data: {error: "The labelling server cannot be reached (stopped, or the connection is down)."}};
  }
  let data = null;
  try { data = await r.json(); } catch (e) { data = {error: `The server answered ${r.status} ${r.statusText}.`}; }
  return {status: r.status, ok: r.ok, network: false, data};
}

// localStorage, per project
function store(name, value) {
  try { localStorage.setItem(`mocap3d-label:${S.info.project}:${name}`, JSON.stringify(value)); } catch (e) { /* full */ }
}
function restore(name, fallback) {
  try {
    const v = localStorage.getItem(`mocap3d-label:${S.info.project}:${name}`);
    return v === null ? fallback : JSON.parse(v);
  } catch (e) { return fallback; }
}
function saveUi() {
  const frameName = S.info.frames[S.frameIndex] ? S.info.frames[S.frameIndex].name : null;
  store("ui", {frame: S.frameIndex, frameName, bp: S.bp, ind: S.ind, mode: S.mode, link: S.link});
}
function saveOutbox() { store("outbox", {batches: S.outbox, revisions: S.revisions}); }
function saveHistory() { store("history", S.history); }

function pendingCount() { return S.outbox.reduce((n, b) => n + b.edits.length, 0); }

function setStatus() {
  const n = pendingCount();
  let status, text;
  if (!S.online || S.failing) {
    status = "offline";  // short and of fixed width: the header must not reflow (the views would move)
    text = `NOT SAVED (${n})`;
  } else if (n > 0) {
    status = "saving";
    text = `saving ${n}…`;
  } else {
    status = "saved";
    text = "all saved";
  }
  document.body.dataset.status = status;
  $("status").textContent = text;
}

function message(text, kind) {
  $("message-text").textContent = text || "";
  $("message").className = kind || "";
  $("message").hidden = !text;
}

// the state of one point: "saved", "saving" (sent, no answer yet) or "unsaved" (waiting for the server)
function pointState(video, image, ind, bp) {
  for (const b of S.outbox) {
    for (const e of b.edits) {
      if (e.video === video && e.image === image && e.individual === ind && e.bodypart === bp) {
        return S.online && !S.failing ? "saving" : "unsaved";
      }
    }
  }
  return "saved";
}

// image pixel (x, y) <-> CSS px inside the view's canvas; pixel centres are at integers (DeepLabCut, OpenCV)
function toCanvas(v, x, y) { return [x * v.scale + v.ox, y * v.scale + v.oy]; }
function toImage(v, cx, cy) { return [(cx - v.ox) / v.scale, (cy - v.oy) / v.scale]; }
function eventPos(v, e) {
  const r = v.canvas.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
}
function imageSize(v) {
  const fv = S.frame.views[v.index];
  if (fv.size) return fv.size;
  if (v.img && v.img.naturalWidth) return [v.img.naturalWidth, v.img.naturalHeight];
  return [640, 480];
}
function clampToImage(v, x, y) {
  const [w, h] = imageSize(v);
  return [Math.min(Math.max(x, -0.5), w - 0.5), Math.min(Math.max(y, -0.5), h - 0.5)];
}

// ------------------------------------------------------------------ layout and zoom

function buildViews() {
  const box = $("views");
  const n = S.frame.views.length;
  if (!(S.views.length === n && S.views.every((v, i) => v.name === S.frame.views[i].view))) {
    box.innerHTML = "";
    S.views = S.frame.views.map((fv, i) => {
      const el = document.createElement("div");
      el.className = "view";
      el.dataset.view = fv.view;
      const head = document.createElement("div");
      head.className = "viewhead";
      const canvas = document.createElement("canvas");
      el.append(canvas, head);
      box.append(el);
      const v = {name: fv.view, index: i, el, canvas, head, img: null, scale: 1, ox: 0, oy: 0, userZoom: false};
      attachPointer(v);
      new ResizeObserver(() => resized(v)).observe(el);
      return v;
    });
  }
  layout();
}

function layout() {
  // the grid (columns x rows) that shows the images largest
  const box = $("views");
  const n = S.views.length;
  const W = box.clientWidth - 8, H = box.clientHeight - 8;
  // the shape to show: the animal's region if there is one, else the image
  const fv0 = S.frame.views[0];
  const region = fitRegion(fv0, fv0.size);
  const [w, h] = region ? [region[2] - region[0], region[3] - region[1]] : (fv0.size || [640, 480]);
  let best = 1, bestScale = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const scale = Math.min(W / cols / w, H / rows / h);
    if (scale > bestScale + 1e-9) { best = cols; bestScale = scale; }
  }
  box.style.gridTemplateColumns = `repeat(${best}, 1fr)`;
  box.style.gridTemplateRows = `repeat(${Math.ceil(n / best)}, 1fr)`;
}

function resized(v) {
  // the panel changed size (window, header, grid): keep the image point at its centre and the zoom, so that
  // nothing jumps under the mouse; a view not fitted yet is fitted
  const before = [v.cssWidth || 0, v.cssHeight || 0];
  sizeCanvas(v);
  if (!v.fitted) { fitAnimal(v); v.fitted = true; } else {
    v.ox += (v.cssWidth - before[0]) / 2;
    v.oy += (v.cssHeight - before[1]) / 2;
  }
  draw(v);
}

function sizeCanvas(v) {
  const r = v.el.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  v.canvas.width = Math.max(1, Math.round(r.width * dpr));
  v.canvas.height = Math.max(1, Math.round(r.height * dpr));
  v.cssWidth = r.width;
  v.cssHeight = r.height;
}

function fitBox(v, x0, y0, x1, y1) {
  const r = v.el.getBoundingClientRect();
  if (r.width < 2 || r.height < 2) return;
  const w = x1 - x0, h = y1 - y0;
  v.scale = Math.min(r.width / w, r.height / h);
  v.ox = (r.width - w * v.scale) / 2 - x0 * v.scale;
  v.oy = (r.height - h * v.scale) / 2 - y0 * v.scale;
}

function fitWhole(v) {
  const [w, h] = imageSize(v);
  fitBox(v, -0.5, -0.5, w - 0.5, h - 0.5);  // the image's outer edge at the panel's edge
  v.userZoom = false;
}

function fitRegion(fv, size) {
  // image region around the animal: its labels and predictions (every individual) with a margin; null when the
  // view has fewer than two points
  const pts = [];
  fv.labels.forEach((row) => row.forEach((p) => { if (p) pts.push(p); }));
  if (fv.predictions) fv.predictions.forEach((row) => row.forEach((p) => { if (p) pts.push(p); }));
  if (pts.length < 2) return null;
  const [w, h] = size || [640, 480];
  const x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  const y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
  const pad = 0.2 * Math.max(x1 - x0, y1 - y0, 0.1 * Math.max(w, h));
  return [x0 - pad, y0 - pad, x1 + pad, y1 + pad];
}

function fitAnimal(v) {
  // each frame opens on the labelled (or predicted) animal; the whole frame when there is none
  const region = fitRegion(S.frame.views[v.index], imageSize(v));
  if (!region) { fitWhole(v); return; }
  const [w, h] = imageSize(v);
  fitBox(v, ...region);
  const r = v.el.getBoundingClientRect();
  if (v.scale < Math.min(r.width / w, r.height / h)) fitWhole(v);  // never smaller than the whole frame
  v.userZoom = false;
}

function zoomAt(v, cx, cy, f) {
  const targets = S.link ? S.views : [v];
  for (const t of targets) {
    t.ox = cx - (cx - t.ox) * f;
    t.oy = cy - (cy - t.oy) * f;
    t.scale *= f;
    t.userZoom = true;
    draw(t);
  }
}

function panBy(v, dx, dy) {
  const targets = S.link ? S.views : [v];
  for (const t of targets) { t.ox += dx; t.oy += dy; t.userZoom = true; draw(t); }
}

// ------------------------------------------------------------------ drawing

function draw(v) {
  if (!S.frame || !v || !S.frame.views[v.index]) return;
  const fv = S.frame.views[v.index];
  const ctx = v.canvas.getContext("2d");
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#111";
  ctx.fillRect(0, 0, v.canvas.width, v.canvas.height);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  if (v.img && v.img.complete && v.img.naturalWidth) {
    ctx.save();
    ctx.imageSmoothingEnabled = v.scale < 4;
    ctx.translate(v.ox, v.oy);
    ctx.scale(v.scale, v.scale);
    ctx.drawImage(v.img, -0.5, -0.5);
    ctx.restore();
  }
  const flags = [];
  if (!S.hidden) {
    drawEpipolar(ctx, v);
    drawSkeleton(ctx, v, fv);
    drawPredictions(ctx, v, fv);
    drawProposals(ctx, v, fv);
    drawLabels(ctx, v, fv, flags);
  }
  v.head.innerHTML = "";
  v.head.append(`${fv.view} · ${fv.image.split("/").pop()}`);
  if (flags.length) {
    const span = document.createElement("span");
    span.className = "flag";
    span.textContent = "  ⚠ off the other views: " + flags.join(", ");
    v.head.append(span);
  }
  v.el.classList.toggle("flagged", flags.length > 0);
}

function drawEpipolar(ctx, v) {
  const g = S.geometry;
  if (!g || !g.epipolar) return;
  ctx.save();
  ctx.strokeStyle = EPIPOLAR_COLOR;
  ctx.lineWidth = 2;
  ctx.lineJoin = "round";
  g.epipolar.forEach((targets) => {
    if (!targets || !targets[v.index]) return;
    for (const line of targets[v.index]) {
      ctx.beginPath();
      line.forEach(([x, y], i) => {
        const [cx, cy] = toCanvas(v, x, y);
        if (i === 0) ctx.moveTo(cx, cy); else ctx.lineTo(cx, cy);
      });
      ctx.stroke();
    }
  });
  ctx.restore();
}

function drawSkeleton(ctx, v, fv) {
  if (!S.info.skeleton || !S.info.skeleton.length) return;
  ctx.save();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = "rgba(255, 255, 255, 0.55)";
  fv.labels.forEach((row) => S.info.skeleton.forEach(([a, b]) => {
    if (!row[a] || !row[b]) return;
    const [ax, ay] = toCanvas(v, row[a][0], row[a][1]);
    const [bx, by] = toCanvas(v, row[b][0], row[b][1]);
    ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
  }));
  ctx.restore();
}

function marker(ctx, cx, cy, kind, fill, current, state) {
  const r = current ? 6 : 4.5;
  ctx.beginPath();
  if (kind === "prediction") {
    ctx.moveTo(cx, cy - r - 1); ctx.lineTo(cx + r + 1, cy); ctx.lineTo(cx, cy + r + 1); ctx.lineTo(cx - r - 1, cy);
    ctx.closePath();
  } else {
    ctx.arc(cx, cy, r, 0, 2 * Math.PI);
  }
  if (kind === "label") {
    ctx.fillStyle = fill; ctx.fill();
    ctx.lineWidth = current ? 2 : 1; ctx.strokeStyle = current ? "#fff" : "#000"; ctx.stroke();
    if (state && state !== "saved") {
      ctx.save();
      ctx.beginPath(); ctx.arc(cx, cy, r + 4, 0, 2 * Math.PI);
      ctx.lineWidth = 2;
      ctx.setLineDash(state === "saving" ? [3, 3] : []);
      ctx.strokeStyle = state === "saving" ? "#ffd040" : "#ff2020";
      ctx.stroke();
      if (state === "unsaved") {
        ctx.fillStyle = "#ff2020"; ctx.font = "bold 11px sans-serif";
        ctx.fillText("NOT SAVED", cx + r + 6, cy + 4);
      }
      ctx.restore();
    }
  } else {
    ctx.lineWidth = 2; ctx.strokeStyle = fill; ctx.stroke();
    if (kind === "proposal") {
      ctx.beginPath(); ctx.moveTo(cx - r, cy); ctx.lineTo(cx + r, cy); ctx.moveTo(cx, cy - r); ctx.lineTo(cx, cy + r);
      ctx.stroke();
    }
  }
}

function drawLabels(ctx, v, fv, flags) {
  const g = S.geometry;
  fv.labels.forEach((row, ind) => row.forEach((p, k) => {
    if (!p) return;
    const [cx, cy] = toCanvas(v, p[0], p[1]);
    const current = k === S.bp && ind === S.ind;
    ctx.globalAlpha = ind === S.ind ? 1 : 0.5;
    marker(ctx, cx, cy, "label", color(k, ind), current, pointState(fv.video, fv.image, ind, k));
    if (ind === S.ind && g && g.flagged && g.flagged[v.index] && g.flagged[v.index][k]) {
      const err = g.error[v.index][k];
      ctx.beginPath(); ctx.arc(cx, cy, 11, 0, 2 * Math.PI);
      ctx.lineWidth = 2; ctx.strokeStyle = FLAG_COLOR; ctx.stroke();
      ctx.fillStyle = FLAG_COLOR; ctx.font = "12px sans-serif";
      ctx.fillText(`${err.toFixed(1)} px`, cx + 13, cy - 8);
      flags.push(`${bpName(k)} ${err.toFixed(1)} px`);
    }
    if (current) {
      ctx.fillStyle = "#fff"; ctx.font = "12px sans-serif";
      ctx.fillText(bpName(k), cx + 9, cy + 14);
    }
  }));
  ctx.globalAlpha = 1;
}

function drawPredictions(ctx, v, fv) {
  if (!fv.predictions) return;
  fv.predictions[S.ind].forEach((p, k) => {
    if (!p || fv.labels[S.ind][k]) return;
    const [cx, cy] = toCanvas(v, p[0], p[1]);
    ctx.globalAlpha = k === S.bp ? 1 : 0.6;
    marker(ctx, cx, cy, "prediction", color(k), k === S.bp);
  });
  ctx.globalAlpha = 1;
}

function drawProposals(ctx, v, fv) {
  const g = S.geometry;
  if (!g || !g.proposed || !g.proposed[v.index]) return;
  g.proposed[v.index].forEach((p, k) => {
    if (!p || fv.labels[S.ind][k]) return;
    const [cx, cy] = toCanvas(v, p[0], p[1]);
    ctx.globalAlpha = k === S.bp ? 1 : 0.5;
    marker(ctx, cx, cy, "proposal", color(k), k === S.bp);
  });
  ctx.globalAlpha = 1;
}

function drawAll() { S.views.forEach(draw); }

// ------------------------------------------------------------------ side panel

function renderSide() {
  const bps = $("bodypart-list");
  bps.innerHTML = "";
  const prog = S.progress;
  S.info.bodyparts.forEach((name, k) => {
    const li = document.createElement("li");
    li.dataset.bodypart = k;
    if (k === S.bp) li.classList.add("current");
    const [done, total] = prog && prog.bodyparts[k] ? prog.bodyparts[k] : [0, 0];
    if (total && done === total) li.classList.add("done");
    li.innerHTML = `<span class="dot" style="background:${color(k)}"></span><span class="name"></span>` +
      `<span class="count">${done}/${total}</span>`;
    li.querySelector(".name").textContent = name;
    li.onclick = () => selectBodypart(k);
    bps.append(li);
  });
  const frames = $("frame-list");
  frames.innerHTML = "";
  S.info.frames.forEach((f, i) => {
    const li = document.createElement("li");
    li.dataset.frame = i;
    if (i === S.frameIndex) li.classList.add("current");
    const [done, total] = prog && prog.frames[i] ? prog.frames[i] : [0, 1];
    if (done === total) li.classList.add("done");
    li.innerHTML = `<span class="name"></span><span class="bar"><div style="width:${(100 * done) / total}%"></div>` +
      `</span><span class="count">${done}/${total}</span>`;
    li.querySelector(".name").textContent = f.name;
    li.onclick = () => loadFrame(i);
    frames.append(li);
  });
  $("bodypart").value = String(S.bp);
  $("individual").value = String(S.ind);
  $("mode").value = S.mode;
  $("link-zoom").checked = S.link;
  $("frame-name").textContent = S.info.frames[S.frameIndex] ? S.info.frames[S.frameIndex].name : "no frames";
  $("frame-count").textContent = `${S.frameIndex + 1} / ${S.info.frames.length}`;
  $("undo").disabled = !S.history.undo.length;
  $("redo").disabled = !S.history.redo.length;
}

async function refreshProgress() {
  const r = await api("/api/progress");
  if (r.ok) { S.progress = r.data; renderSide(); }
}

// ------------------------------------------------------------------ data

function overlayPending(frame) {
  // queued edits not yet confirmed stay on the page as placed
  for (const b of S.outbox) {
    for (const e of b.edits) {
      const fv = frame.views.find((x) => x.video === e.video && x.image === e.image);
      if (fv) fv.labels[e.individual][e.bodypart] = e.xy;
    }
  }
}

function hasPending(video) { return S.outbox.some((b) => b.edits.some((e) => e.video === video)); }

async function fetchFrame(i) {
  const r = await api(`/api/frame/${i}`);
  if (!r.ok) {
    message(r.network ? `${r.data.error} Frame ${i + 1} is shown when it is back.` : r.data.error, "error");
    return null;
  }
  r.data.views.forEach((fv) => { if (!hasPending(fv.video)) S.revisions[fv.video] = fv.revision; });
  overlayPending(r.data);
  return r.data;
}

async function loadFrame(i) {
  if (!S.info.frames.length) return;
  i = Math.max(0, Math.min(S.info.frames.length - 1, i));
  const frame = await fetchFrame(i);
  if (!frame) return;
  S.frameIndex = i;
  S.frame = frame;
  saveUi();
  buildViews();
  S.views.forEach((v) => {
    const fv = S.frame.views[v.index];
    sizeCanvas(v);
    fitAnimal(v);
    v.fitted = v.cssWidth > 2 && v.cssHeight > 2;
    v.img = new Image();
    v.img.onload = () => { if (!fv.size && !v.userZoom) fitAnimal(v); draw(v); };
    v.img.onerror = () => message(`The image ${fv.image} could not be loaded (moved, or the server is down).`, "error");
    v.img.src = fv.url;
  });
  S.geometry = null;
  renderSide();
  drawAll();
  await refreshGeometry();
  await refreshProgress();
}

async function refreshGeometry() {
  if (!S.info.calibrated || !S.frame) { S.geometry = null; return; }
  const index = S.frameIndex;
  const r = await api(`/api/geometry/${index}?individual=${S.ind}&bodypart=${S.bp}`);
  if (index !== S.frameIndex) return;
  if (r.ok) S.geometry = r.data;
  drawAll();
}

// ------------------------------------------------------------------ edits, the outbox

// edits: [{video, image, ind, bp, xy}]; returns nothing (the outbox sends it)
function commit(edits, undoable = true) {
  if (!edits.length) return;
  const record = [];
  for (const e of edits) {
    const fv = S.frame && S.frame.views.find((x) => x.video === e.video && x.image === e.image);
    const before = fv ? fv.labels[e.ind][e.bp] : (e.before === undefined ? null : e.before);
    if (fv) fv.labels[e.ind][e.bp] = e.xy;
    record.push({video: e.video, image: e.image, ind: e.ind, bp: e.bp, before, after: e.xy});
  }
  if (undoable) {
    S.history.undo.push({frame: S.frameIndex, frameName: S.frame ? S.frame.name : null, edits: record});
    if (S.history.undo.length > HISTORY_MAX) S.history.undo.shift();
    S.history.redo = [];
    saveHistory();
  }
  S.outbox.push({id: S.nextId++, edits: edits.map((e) => ({
    video: e.video, image: e.image, individual: e.ind, bodypart: e.bp, xy: e.xy,
  }))});
  saveOutbox();
  pump();  // first: nothing below may keep the edit from being sent
  setStatus();
  renderSide();
  drawAll();
}

async function pump() {
  if (S.inflight !== null) return;
  try {
    await sendOutbox();
  } catch (e) {
    message(`The page failed while saving (${e}); your unsaved changes are kept: reload the page to send them.`,
      "error");
  } finally {
    S.inflight = null;
    setStatus();
  }
}

async function sendOutbox() {
  let tries = 0;
  while (S.outbox.length) {
    const batch = S.outbox[0];
    S.inflight = batch.id;
    const edits = batch.edits.map((e) => ({...e, revision: S.revisions[e.video] || "none"}));
    const r = await api("/api/labels", {edits});
    if (r.network || r.status >= 500) {
      S.online = !r.network;
      S.failing = !r.network;  // the server answers but cannot write (disk full, permissions)
      const n = pendingCount();
      const queued = `${n} change${n === 1 ? " is" : "s are"} queued and sent as soon as it works again`;
      message(r.network ? `NOT SAVED: the server cannot be reached; ${queued} (keep this page open).`
        : `NOT SAVED: ${r.data.error} ${queued}.`, "error");
      setStatus();
      drawAll();
      await sleep(RETRY_MS[Math.min(tries, RETRY_MS.length - 1)]);
      tries += 1;
      continue;
    }
    const wasOffline = !S.online || S.failing;
    S.online = true;
    S.failing = false;
    tries = 0;
    S.outbox.shift();
    if (r.ok) {
      for (const out of r.data.videos) {
        S.revisions[out.video] = out.revision;
        if (!S.frame) continue;
        for (const [image, row] of Object.entries(out.images)) {
          const fv = S.frame.views.find((x) => x.video === out.video && x.image === image);
          if (fv) fv.labels = row;
        }
      }
      if (S.frame) overlayPending(S.frame);
      if (wasOffline && !S.outbox.length) message("The server is back; every queued change is saved.", "info");
    } else {
      // refused: a conflict (another tab or program wrote the file) or a bad edit; later edits of the same
      // files were made on what the page showed, so they go too, and the page shows the files again
      const videos = new Set(batch.edits.map((e) => e.video));
      S.outbox = S.outbox.filter((b) => !b.edits.some((e) => videos.has(e.video)));
      if (r.status === 409 && r.data.revision) videos.forEach((vid) => { delete S.revisions[vid]; });
      message(r.data.error, "error");
      const back = batch.edits[0];
      if (S.frame && S.frame.views.some((x) => x.video === back.video)) S.bp = back.bodypart;
      const frame = S.frame ? await fetchFrame(S.frameIndex) : null;
      if (frame) { S.frame = frame; renderSide(); }
    }
    saveOutbox();
    setStatus();
    drawAll();
    S.inflight = null;
    refreshGeometry();
    refreshProgress();
  }
}

// ------------------------------------------------------------------ labelling actions

function labelledEverywhere(bp) { return S.frame.views.every((fv) => fv.labels[S.ind][bp]); }

function advance(from) {
  // sequential mode: once body part `from` is labelled in every view, the next one that is not
  if (S.mode !== "sequential" || from !== S.bp || !labelledEverywhere(from)) return;
  const n = S.info.bodyparts.length;
  for (let step = 1; step < n; step++) {
    const k = (from + step) % n;
    if (!labelledEverywhere(k)) { selectBodypart(k); return; }
  }
  message("Every body part of this frame is labelled; Right arrow (or D) for the next frame.", "");
}

function selectBodypart(k) {
  const n = S.info.bodyparts.length;
  S.bp = ((k % n) + n) % n;
  saveUi();
  renderSide();
  refreshGeometry();
  drawAll();
}

function insideImage(v, x, y) {
  const [w, h] = imageSize(v);
  return x >= -0.5 && y >= -0.5 && x <= w - 0.5 && y <= h - 0.5;
}

function place(v, bp, xy, how) {
  const fv = S.frame.views[v.index];
  if (how === "click" && !insideImage(v, xy[0], xy[1])) {
    message(`That click is outside the image of ${fv.view}; nothing was placed.`, "info");
    return;
  }
  const [x, y] = clampToImage(v, xy[0], xy[1]);
  const had = fv.labels[S.ind][bp];
  commit([{video: fv.video, image: fv.image, ind: S.ind, bp, xy: [x, y]}]);
  if (had && how === "click") message(`Moved ${bpName(bp)} in ${fv.view} (Z undoes).`, "info");
  else if (how === "click") message("");
  advance(bp);
}

function proposalOrPrediction(vi, k) {
  const fv = S.frame.views[vi];
  const g = S.geometry;
  const proposal = g && g.proposed && g.proposed[vi] ? g.proposed[vi][k] : null;
  const prediction = fv.predictions ? fv.predictions[S.ind][k] : null;
  return proposal || prediction;
}

function acceptCurrent() {
  const k = S.bp;
  const edits = [];
  S.frame.views.forEach((fv, vi) => {
    if (fv.labels[S.ind][k]) return;
    const p = proposalOrPrediction(vi, k);
    if (p) {
      const [x, y] = clampToImage(S.views[vi], p[0], p[1]);
      edits.push({video: fv.video, image: fv.image, ind: S.ind, bp: k, xy: [x, y]});
    }
  });
  if (!edits.length) {
    message(`Nothing to accept for ${bpName(k)}: no proposal (label it in two views) or prediction where it is missing.`, "info");
    return;
  }
  commit(edits);
  advance(k);
}

function acceptAll() {
  // every prediction (else proposal) of this frame where there is no label: one request
  const edits = [];
  S.frame.views.forEach((fv, vi) => S.info.bodyparts.forEach((_, k) => {
    if (fv.labels[S.ind][k]) return;
    const g = S.geometry;
    const prediction = fv.predictions ? fv.predictions[S.ind][k] : null;
    const proposal = g && g.proposed && g.proposed[vi] ? g.proposed[vi][k] : null;
    const p = prediction || proposal;
    if (p) {
      const [x, y] = clampToImage(S.views[vi], p[0], p[1]);
      edits.push({video: fv.video, image: fv.image, ind: S.ind, bp: k, xy: [x, y]});
    }
  }));
  if (!edits.length) { message("Nothing to accept: every point with a prediction or proposal is labelled.", "info"); return; }
  commit(edits);
  message(`Accepted ${edits.length} point${edits.length === 1 ? "" : "s"} (Z undoes them all).`, "info");
  advance(S.bp);
}

async function copyPrevious() {
  if (S.frameIndex === 0) { message("This is the first frame: there is no previous frame to copy.", "info"); return; }
  S.busy += 1;
  let prev;
  try { prev = await fetchFrame(S.frameIndex - 1); } finally { S.busy -= 1; }
  if (!prev) return;
  const edits = [];
  S.frame.views.forEach((fv) => {
    const src = prev.views.find((p) => p.view === fv.view);
    if (!src) return;
    src.labels.forEach((row, ind) => row.forEach((p, k) => {
      const q = p || (src.predictions ? src.predictions[ind][k] : null);
      if (q && !fv.labels[ind][k]) edits.push({video: fv.video, image: fv.image, ind, bp: k, xy: [q[0], q[1]]});
    }));
  });
  if (!edits.length) { message("The previous frame has no labels to copy where this one has none.", "info"); return; }
  commit(edits);
  message(`Copied ${edits.length} point${edits.length === 1 ? "" : "s"} from the previous frame; drag them onto the animal (Z undoes).`, "info");
}

function frameIndexOf(name, fallback) {
  const i = name ? S.info.frames.findIndex((f) => f.name === name) : -1;
  return i >= 0 ? i : fallback;
}

async function replay(entry, which) {
  const index = frameIndexOf(entry.frameName, entry.frame);
  if (index !== S.frameIndex) {
    S.busy += 1;
    try { await loadFrame(index); } finally { S.busy -= 1; }
  }
  const edits = entry.edits.map((e) => ({video: e.video, image: e.image, ind: e.ind, bp: e.bp,
    xy: which === "undo" ? e.before : e.after, before: which === "undo" ? e.after : e.before}));
  commit(edits, false);
  if (entry.edits.length === 1) S.bp = entry.edits[0].bp;
  const e0 = entry.edits[0];
  const what = entry.edits.length === 1 ? bpName(e0.bp) : `${entry.edits.length} points`;
  message(`${which === "undo" ? "Undid" : "Redid"} ${what} (${which === "undo" ? "Shift+Z or Ctrl+Y redoes" : "Z undoes"}).`, "info");
  saveUi();
  renderSide();
  refreshGeometry();
}

async function undo() {
  const entry = S.history.undo.pop();
  if (!entry) { message("Nothing to undo.", "info"); return; }
  S.history.redo.push(entry);
  saveHistory();
  await replay(entry, "undo");
}

async function redo() {
  const entry = S.history.redo.pop();
  if (!entry) { message("Nothing to redo.", "info"); return; }
  S.history.undo.push(entry);
  saveHistory();
  await replay(entry, "redo");
}

function deleteUnderMouse() {
  const h = S.hover;
  const hit = h ? markerAt(h.v, h.cx, h.cy, true) : null;
  if (!hit) { message("Delete removes the label under the mouse pointer: point at a label, then press Delete.", "info"); return; }
  const fv = S.frame.views[h.v.index];
  commit([{video: fv.video, image: fv.image, ind: S.ind, bp: hit.k, xy: null}]);
  message(`Deleted ${bpName(hit.k)} in ${fv.view} (Z undoes).`, "info");
}

// ------------------------------------------------------------------ pointer and keys

function markerAt(v, cx, cy, labelsOnly = false) {
  // the marker drawn under (cx, cy): a label of the current individual, else a prediction or proposal
  if (S.hidden || !S.frame) return null;
  const fv = S.frame.views[v.index];
  let best = null;
  const consider = (p, k, kind) => {
    if (!p) return;
    const [px, py] = toCanvas(v, p[0], p[1]);
    const d = Math.hypot(px - cx, py - cy);
    if (d <= HIT_RADIUS && (!best || d < best.d)) best = {k, kind, d, p};
  };
  fv.labels[S.ind].forEach((p, k) => consider(p, k, "label"));
  if (best || labelsOnly) return best;
  if (fv.predictions) fv.predictions[S.ind].forEach((p, k) => { if (!fv.labels[S.ind][k]) consider(p, k, "prediction"); });
  const g = S.geometry;
  if (g && g.proposed && g.proposed[v.index]) {
    g.proposed[v.index].forEach((p, k) => { if (!fv.labels[S.ind][k]) consider(p, k, "proposal"); });
  }
  return best;
}

function showTooltip(v, e, hit) {
  const tip = $("tooltip");
  if (!hit) { tip.hidden = true; return; }
  const fv = S.frame.views[v.index];
  let text = `${bpName(hit.k)} · ${hit.kind}`;
  if (S.info.multi_animal) text += ` · ${S.info.individuals[S.ind]}`;
  if (hit.kind === "label") {
    const state = pointState(fv.video, fv.image, S.ind, hit.k);
    text += state === "saved" ? " · saved" : state === "saving" ? " · saving" : " · NOT SAVED";
  } else if (hit.kind === "prediction" && fv.likelihood) {
    const l = fv.likelihood[S.ind][hit.k];
    if (l !== null) text += ` · likelihood ${l.toFixed(2)}`;
  }
  tip.textContent = text;
  tip.style.left = `${e.clientX + 14}px`;
  tip.style.top = `${e.clientY + 12}px`;
  tip.hidden = false;
}

function attachPointer(v) {
  const c = v.canvas;
  c.addEventListener("contextmenu", (e) => e.preventDefault());
  c.addEventListener("pointerdown", (e) => {
    if (!S.frame) return;
    c.setPointerCapture(e.pointerId);
    const [cx, cy] = eventPos(v, e);
    const hit = e.button === 0 ? markerAt(v, cx, cy) : null;
    S.drag = {v, x0: cx, y0: cy, last: [cx, cy], moved: false, pan: e.button !== 0, hit};
  });
  c.addEventListener("pointermove", (e) => {
    const [cx, cy] = eventPos(v, e);
    S.hover = {v, cx, cy};
    const d = S.drag;
    if (!d || d.v !== v) { showTooltip(v, e, markerAt(v, cx, cy)); return; }
    // a grabbed marker follows the smallest movement (fine corrections when zoomed in); a press on empty image
    // becomes a pan only past PAN_THRESHOLD, so that a slightly shaky click still places a point
    if (Math.hypot(cx - d.x0, cy - d.y0) > (d.hit ? 0.5 : PAN_THRESHOLD)) d.moved = true;
    if (d.hit && d.moved) {
      const fv = S.frame.views[v.index];
      const [x, y] = clampToImage(v, ...toImage(v, cx, cy));
      if (d.hit.kind === "label") fv.labels[S.ind][d.hit.k] = [x, y];
      d.dragTo = [x, y];
      draw(v);
      showTooltip(v, e, d.hit);
    } else if (!d.hit && (d.moved || d.pan)) {
      panBy(v, cx - d.last[0], cy - d.last[1]);
    }
    d.last = [cx, cy];
  });
  c.addEventListener("pointerup", (e) => {
    const d = S.drag;
    S.drag = null;
    if (!d || d.v !== v || d.pan) return;
    const [cx, cy] = eventPos(v, e);
    const fv = S.frame.views[v.index];
    if (d.hit) {
      const k = d.hit.k;
      if (d.moved) {
        // a drag: the grabbed label moves, a grabbed prediction or proposal becomes a label where dropped
        const [x, y] = clampToImage(v, ...toImage(v, cx, cy));
        if (d.hit.kind === "label") {
          fv.labels[S.ind][k] = d.hit.p;  // restored, so that undo has the old value
          commit([{video: fv.video, image: fv.image, ind: S.ind, bp: k, xy: [x, y]}]);
          message(`Moved ${bpName(k)} in ${fv.view} (Z undoes).`, "info");
        } else {
          commit([{video: fv.video, image: fv.image, ind: S.ind, bp: k, xy: [x, y]}]);
          advance(k);
        }
      } else if (d.hit.kind !== "label") {
        S.bp = k;  // a click on a proposal or prediction accepts it
        place(v, k, d.hit.p, "accept");
      } else {
        selectBodypart(k);  // a click on a label selects its body part
        message(`Selected ${bpName(k)}: drag it to move it, or click elsewhere to place it there.`, "info");
      }
      renderSide();
      refreshGeometry();
      return;
    }
    if (d.moved) return;  // that was a pan
    place(v, S.bp, toImage(v, cx, cy), "click");
  });
  c.addEventListener("pointerleave", () => { S.hover = null; $("tooltip").hidden = true; });
  c.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [cx, cy] = eventPos(v, e);
    zoomAt(v, cx, cy, Math.exp(-e.deltaY * 0.0015));
  }, {passive: false});
}

// ------------------------------------------------------------------ the whole video

function videoViews() {
  return S.frame.views.map((fv) => ({fv, video: S.info.videos[fv.video]}));
}

function openVideo() {
  const views = videoViews();
  const missing = views.filter((x) => !x.video.source).map((x) => x.fv.view);
  if (missing.length) {
    message(`The video of ${missing.join(", ")} was not found (looked for videos/<folder name>.* and config.yaml's ` +
      "video_sets); put it there to browse it.", "error");
    return;
  }
  const total = Math.min(...views.map((x) => x.video.source_frames));
  $("video-slider").max = String(total - 1);
  $("video-number").max = String(total - 1);
  $("video-total").textContent = `${total} (${views.map((x) => x.video.source).join(", ")})`;
  const m = /(\d+)\.[A-Za-z]+$/.exec(S.frame.views[0].image);
  $("video-panel").hidden = false;
  setVideoNumber(m ? Number(m[1]) : 0);
}

function closeVideo() { $("video-panel").hidden = true; }

function setVideoNumber(n) {
  const max = Number($("video-slider").max);
  n = Math.max(0, Math.min(max, Math.round(Number(n) || 0)));
  $("video-slider").value = String(n);
  $("video-number").value = String(n);
  const box = $("video-previews");
  box.innerHTML = "";
  for (const {fv} of videoViews()) {
    const img = document.createElement("img");
    img.src = `/video/${fv.video}/${n}`;
    img.alt = `${fv.view}, frame ${n}`;
    img.title = `${fv.view}, frame ${n}`;
    box.append(img);
  }
  const re = new RegExp(`/img0*${n}\\.png$`);
  const known = S.info.frames.findIndex((f) => re.test(f.name));
  $("video-note").textContent = known >= 0
    ? `Frame ${n} is already in the labelling set (${S.info.frames[known].name}); "Add this frame" goes there.`
    : `Frame ${n} is not extracted yet; "Add this frame" writes it into labeled-data/ for every view.`;
}

async function addVideoFrame() {
  const n = Number($("video-number").value);
  S.busy += 1;
  try {
    const r = await api("/api/add-frame", {frame: S.frameIndex, number: n});
    if (!r.ok) { message(r.data.error, "error"); return; }
    S.info.frames = r.data.session.frames;
    S.info.videos = r.data.session.videos;
    closeVideo();
    await loadFrame(r.data.index);
    message(`Frame ${n} of the video is frame ${r.data.index + 1} of the labelling set; it gets a row in the ` +
      "label file once something is labelled on it.", "info");
  } finally { S.busy -= 1; }
}

function toggleHelp(show) {
  const help = $("help");
  help.hidden = show === undefined ? !help.hidden : !show;
}

function onKey(e) {
  if (!S.frame || e.target.tagName === "SELECT" || e.target.tagName === "INPUT") return;
  const key = e.key;
  const ctrl = e.ctrlKey || e.metaKey;
  let handled = true;
  if (key === "?") toggleHelp();
  else if (key === "Escape") { toggleHelp(false); closeVideo(); message(""); }
  else if (key === "v" && !ctrl) { if ($("video-panel").hidden) openVideo(); else closeVideo(); }
  else if ((key === "z" || key === "Z") && e.shiftKey) redo();
  else if ((key === "y" || key === "Y") && ctrl) redo();
  else if (key === "z" || key === "Z") undo();
  else if (ctrl) handled = false;  // leave the browser's own shortcuts alone
  else if (key === "ArrowRight" || key === "d" || key === "PageDown") loadFrame(S.frameIndex + 1);
  else if (key === "ArrowLeft" || key === "a" || key === "PageUp") loadFrame(S.frameIndex - 1);
  else if (key === "ArrowDown" || key === "s") selectBodypart(S.bp + 1);
  else if (key === "ArrowUp" || key === "w") selectBodypart(S.bp - 1);
  else if (key === "h") { S.hidden = !S.hidden; drawAll(); }
  else if (key === "f") { S.views.forEach((v) => { fitAnimal(v); draw(v); }); }
  else if (key === "F") { S.views.forEach((v) => { fitWhole(v); draw(v); }); }
  else if (key === "l") { S.link = !S.link; saveUi(); renderSide(); }
  else if (key === "m") { S.mode = S.mode === "sequential" ? "stay" : "sequential"; saveUi(); renderSide(); }
  else if (key === "c") copyPrevious();
  else if (key === "Enter" && e.shiftKey) acceptAll();
  else if (key === "Enter") acceptCurrent();
  else if (key === "Delete" || key === "Backspace") deleteUnderMouse();
  else handled = false;
  if (handled) e.preventDefault();
}

// ------------------------------------------------------------------ start

async function start() {
  let r = await api("/api/session");
  while (!r.ok && r.network) {
    message(r.data.error + " Retrying…", "error");
    await sleep(1000);
    r = await api("/api/session");
  }
  if (!r.ok) { message(r.data.error, "error"); return; }
  message("");
  S.info = r.data;
  const sel = $("bodypart");
  S.info.bodyparts.forEach((name, k) => sel.append(new Option(name, String(k))));
  sel.onchange = () => selectBodypart(Number(sel.value));
  const isel = $("individual");
  S.info.individuals.forEach((name, i) => isel.append(new Option(name, String(i))));
  isel.onchange = () => { S.ind = Number(isel.value); saveUi(); renderSide(); refreshGeometry(); drawAll(); };
  $("individual-box").hidden = !S.info.multi_animal;
  $("mode").onchange = () => { S.mode = $("mode").value; saveUi(); };
  $("link-zoom").onchange = () => { S.link = $("link-zoom").checked; saveUi(); };
  $("prev-frame").onclick = () => loadFrame(S.frameIndex - 1);
  $("next-frame").onclick = () => loadFrame(S.frameIndex + 1);
  $("undo").onclick = undo;
  $("redo").onclick = redo;
  $("hide").onclick = () => { S.hidden = !S.hidden; drawAll(); };
  $("fit").onclick = () => S.views.forEach((v) => { fitAnimal(v); draw(v); });
  $("accept").onclick = acceptCurrent;
  $("accept-all").onclick = acceptAll;
  $("copy-prev").onclick = copyPrevious;
  $("help-button").onclick = () => toggleHelp();
  $("video-button").onclick = () => { if ($("video-panel").hidden) openVideo(); else closeVideo(); };
  $("video-close").onclick = closeVideo;
  $("video-add").onclick = addVideoFrame;
  $("video-slider").oninput = () => setVideoNumber($("video-slider").value);
  $("video-number").onchange = () => setVideoNumber($("video-number").value);
  $("video-prev").onclick = () => setVideoNumber(Number($("video-number").value) - 1);
  $("video-next").onclick = () => setVideoNumber(Number($("video-number").value) + 1);
  $("video-prev10").onclick = () => setVideoNumber(Number($("video-number").value) - 10);
  $("video-next10").onclick = () => setVideoNumber(Number($("video-number").value) + 10);
  $("help").onclick = () => toggleHelp(false);
  $("message-close").onclick = () => message("");
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", () => {
    if (!S.frame) return;
    layout();
    requestAnimationFrame(() => S.views.forEach((v) => { if (!v.userZoom) { sizeCanvas(v); fitAnimal(v); draw(v); } }));
  });
  window.addEventListener("beforeunload", (e) => { if (pendingCount() > 0) { e.preventDefault(); e.returnValue = ""; } });
  // what this browser had: the frame, body part and settings, the undo history, edits not yet saved
  const ui = restore("ui", {});
  S.bp = Math.min(Number(ui.bp) || 0, S.info.bodyparts.length - 1);
  S.ind = Math.min(Number(ui.ind) || 0, S.info.individuals.length - 1);
  S.mode = ui.mode === "stay" ? "stay" : "sequential";
  S.link = !!ui.link;
  S.history = restore("history", {undo: [], redo: []});
  const box = restore("outbox", {batches: [], revisions: {}});
  S.outbox = box.batches || [];
  S.nextId = S.outbox.reduce((m, b) => Math.max(m, b.id + 1), 1);
  Object.entries(box.revisions || {}).forEach(([vid, rev]) => { if (hasPending(Number(vid))) S.revisions[vid] = rev; });
  if (S.info.warnings.length) message(S.info.warnings.join("\n"));
  if (!S.info.frames.length) { message("There are no frames to label.", "error"); return; }
  await loadFrame(frameIndexOf(ui.frameName, Math.min(Number(ui.frame) || 0, S.info.frames.length - 1)));
  setStatus();
  pump();
}

// For tests and scripts: the state and the coordinate transforms of each view.
window.labelApp = {
  state: S,
  // page (client) coordinates of image pixel (x, y) in view i
  toClient(i, x, y) {
    const v = S.views[i];
    const r = v.canvas.getBoundingClientRect();
    const [cx, cy] = toCanvas(v, x, y);
    return [r.left + cx, r.top + cy];
  },
  toImage(i, clientX, clientY) {
    const v = S.views[i];
    const r = v.canvas.getBoundingClientRect();
    return toImage(v, clientX - r.left, clientY - r.top);
  },
  idle: () => S.outbox.length === 0 && S.inflight === null && S.busy === 0,
  imagesLoaded: () => S.views.length > 0 && S.views.every((v) => v.img && v.img.complete && v.img.naturalWidth > 0),
  pointState,
};

start();
