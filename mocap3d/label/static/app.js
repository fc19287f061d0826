// mocap3d label: the page. Talks to mocap3d/label/server.py; every edit is one POST /api/label,
// sent one at a time in order, each naming the revision of the file it was made on.
"use strict";

const EPIPOLAR_COLOR = "#ff00ff";  // tests look for this colour where the calibration puts the curve
const FLAG_COLOR = "#ff3030";
const HIT_RADIUS = 9;  // CSS px: how close a press must be to grab a point
const PAN_THRESHOLD = 4;  // CSS px of movement that turns a click into a pan

const S = {
  info: null,
  frameIndex: 0,
  frame: null,
  geometry: null,
  progress: null,
  bp: 0,
  ind: 0,
  hidden: false,
  views: [],  // per view of the current frame: {el, canvas, head, img, scale, ox, oy, fitted}
  zoom: {},  // view name -> {scale, ox, oy}: kept across frames of the same camera
  revisions: {},  // video index -> revision of its label file known to this page
  undo: [],
  queue: Promise.resolve(),
  pending: 0,
  drag: null,
  hover: null,
};

// ------------------------------------------------------------------ helpers

const $ = (id) => document.getElementById(id);

function color(k) {
  const n = Math.max(S.info.bodyparts.length, 1);
  return `hsl(${Math.round((300 * k) / n)}, 90%, 58%)`;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = {error: `${r.status} ${r.statusText}`}; }
  return {status: r.status, ok: r.ok, data};
}

function setStatus() {
  const status = S.pending > 0 ? "saving" : (document.body.dataset.status === "error" ? "error" : "saved");
  document.body.dataset.status = status;
  $("status").textContent = S.pending > 0 ? `saving ${S.pending}…` : (status === "error" ? "not saved" : "all saved");
}

function message(text, kind) {
  $("message-text").textContent = text;
  $("message").className = kind || "";
  $("message").hidden = !text;
}

// image pixel (x, y) <-> CSS px inside the view's canvas; pixel centres are at integers (DeepLabCut, OpenCV)
function toCanvas(v, x, y) { return [x * v.scale + v.ox, y * v.scale + v.oy]; }
function toImage(v, cx, cy) { return [(cx - v.ox) / v.scale, (cy - v.oy) / v.scale]; }
function eventPos(v, e) {
  const r = v.canvas.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
}

// ------------------------------------------------------------------ layout

function buildViews() {
  const box = $("views");
  const n = S.frame.views.length;
  if (S.views.length === n && S.views.every((v, i) => v.name === S.frame.views[i].view)) return;
  box.innerHTML = "";
  const cols = n <= 3 ? n : Math.ceil(Math.sqrt(n));
  box.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
  box.style.gridTemplateRows = `repeat(${Math.ceil(n / cols)}, 1fr)`;
  S.views = S.frame.views.map((fv, i) => {
    const el = document.createElement("div");
    el.className = "view";
    el.dataset.view = fv.view;
    const head = document.createElement("div");
    head.className = "viewhead";
    const canvas = document.createElement("canvas");
    el.append(canvas, head);
    box.append(el);
    const v = {name: fv.view, index: i, el, canvas, head, img: null, scale: 1, ox: 0, oy: 0, fitted: false};
    attachPointer(v);
    new ResizeObserver(() => { sizeCanvas(v); draw(v); }).observe(el);
    return v;
  });
}

function sizeCanvas(v) {
  const r = v.el.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  v.canvas.width = Math.max(1, Math.round(r.width * dpr));
  v.canvas.height = Math.max(1, Math.round(r.height * dpr));
  if (!v.userZoom) fit(v);
}

function imageSize(v) {
  const fv = S.frame.views[v.index];
  if (v.img && v.img.naturalWidth) return [v.img.naturalWidth, v.img.naturalHeight];
  return fv.size || [640, 480];
}

function fit(v) {
  const r = v.el.getBoundingClientRect();
  const [w, h] = imageSize(v);
  v.scale = Math.min(r.width / w, r.height / h);
  // the image's outer edge (-0.5 px) sits at the panel's edge
  v.ox = (r.width - w * v.scale) / 2 + 0.5 * v.scale;
  v.oy = (r.height - h * v.scale) / 2 + 0.5 * v.scale;
  v.userZoom = false;
  S.zoom[v.name] = {scale: v.scale, ox: v.ox, oy: v.oy, userZoom: false};
}

// ------------------------------------------------------------------ drawing

function draw(v) {
  if (!S.frame || !v) return;
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
  const rev = S.revisions[fv.video];
  v.head.innerHTML = "";
  v.head.append(`${fv.view} · ${fv.image.split("/").pop()} · rev ${rev}`);
  if (flags.length) {
    const span = document.createElement("span");
    span.className = "flag";
    span.textContent = "  ⚠ " + flags.join(", ");
    v.head.append(span);
  }
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

function marker(ctx, cx, cy, kind, fill, current) {
  const r = current ? 6 : 4.5;
  ctx.beginPath();
  if (kind === "diamond") {
    ctx.moveTo(cx, cy - r - 1); ctx.lineTo(cx + r + 1, cy); ctx.lineTo(cx, cy + r + 1); ctx.lineTo(cx - r - 1, cy);
    ctx.closePath();
  } else {
    ctx.arc(cx, cy, r, 0, 2 * Math.PI);
  }
  if (kind === "label") {
    ctx.fillStyle = fill; ctx.fill();
    ctx.lineWidth = current ? 2 : 1; ctx.strokeStyle = current ? "#fff" : "#000"; ctx.stroke();
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
    ctx.globalAlpha = ind === S.ind ? 1 : 0.45;
    marker(ctx, cx, cy, "label", color(k), current);
    if (ind === S.ind && g && g.flagged && g.flagged[v.index] && g.flagged[v.index][k]) {
      const err = g.error[v.index][k];
      ctx.beginPath(); ctx.arc(cx, cy, 11, 0, 2 * Math.PI);
      ctx.lineWidth = 2; ctx.strokeStyle = FLAG_COLOR; ctx.stroke();
      ctx.fillStyle = FLAG_COLOR; ctx.font = "12px sans-serif";
      ctx.fillText(`${err.toFixed(1)} px`, cx + 13, cy - 8);
      flags.push(`${S.info.bodyparts[k]} ${err.toFixed(1)} px`);
    }
    if (current) {
      ctx.fillStyle = "#fff"; ctx.font = "12px sans-serif";
      ctx.fillText(S.info.bodyparts[k], cx + 9, cy + 14);
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
    marker(ctx, cx, cy, "diamond", color(k), k === S.bp);
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
    const [done, total] = prog ? prog.bodyparts[k] : [0, 0];
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
    const [done, total] = prog ? prog.frames[i] : [0, 1];
    if (done === total) li.classList.add("done");
    li.innerHTML = `<span class="name"></span><span class="bar"><div style="width:${(100 * done) / total}%"></div>` +
      `</span><span class="count">${done}/${total}</span>`;
    li.querySelector(".name").textContent = f.name;
    li.onclick = () => loadFrame(i);
    frames.append(li);
  });
  $("bodypart").value = String(S.bp);
  $("frame-name").textContent = S.info.frames[S.frameIndex] ? S.info.frames[S.frameIndex].name : "no frames";
  $("frame-count").textContent = `${S.frameIndex + 1} / ${S.info.frames.length}`;
}

async function refreshProgress() {
  const r = await api("/api/progress");
  if (r.ok) { S.progress = r.data; renderSide(); }
}

// ------------------------------------------------------------------ data

async function loadFrame(i) {
  if (!S.info.frames.length) return;
  i = Math.max(0, Math.min(S.info.frames.length - 1, i));
  await S.queue;  // edits of the previous frame are saved first
  const r = await api(`/api/frame/${i}`);
  if (!r.ok) { message(r.data.error, "error"); return; }
  S.frameIndex = i;
  S.frame = r.data;
  S.frame.views.forEach((fv) => { S.revisions[fv.video] = fv.revision; });
  buildViews();
  S.views.forEach((v) => {
    const fv = S.frame.views[v.index];
    const z = S.zoom[v.name];
    if (z && z.userZoom) Object.assign(v, z);
    v.img = new Image();
    v.img.onload = () => { if (!v.userZoom) { sizeCanvas(v); } draw(v); };
    v.img.onerror = () => message(`cannot load ${fv.image}`, "error");
    v.img.src = fv.url;
  });
  renderSide();
  await refreshGeometry();
  await refreshProgress();
  drawAll();
}

async function refreshGeometry() {
  if (!S.info.calibrated || !S.frame) { S.geometry = null; return; }
  const r = await api(`/api/geometry/${S.frameIndex}?individual=${S.ind}&bodypart=${S.bp}`);
  S.geometry = r.ok ? r.data : null;
  drawAll();
}

// Place, move (xy) or delete (null) one label; queued so that edits reach the server in order.
function setPoint(viewIndex, bp, ind, xy, undoable = true) {
  const fv = S.frame.views[viewIndex];
  const old = fv.labels[ind][bp];
  fv.labels[ind][bp] = xy;
  drawAll();
  S.pending += 1;
  setStatus();
  const frameIndex = S.frameIndex;
  const job = async () => {
    const r = await api("/api/label", {
      video: fv.video, image: fv.image, individual: ind, bodypart: bp, xy, revision: S.revisions[fv.video],
    });
    if (r.ok) {
      S.revisions[fv.video] = r.data.revision;
      fv.labels = r.data.labels;
      if (undoable) S.undo.push({frameIndex, viewIndex, bp, ind, old, xy});
      if (S.frameIndex === frameIndex) await refreshGeometry();
      refreshProgress();
    } else {
      document.body.dataset.status = "error";
      message(r.data.error, "error");
      if (S.frameIndex === frameIndex) {
        S.bp = bp;  // back to the refused point, to place it again
        renderSide();
        await loadFrameNow(frameIndex);
      }
    }
  };
  S.queue = S.queue.then(job).catch((e) => message(String(e), "error")).finally(() => {
    S.pending -= 1;
    setStatus();
  });
  return S.queue;
}

async function loadFrameNow(i) {
  // reload without waiting for the queue (called from inside it after a refused edit)
  const r = await api(`/api/frame/${i}`);
  if (!r.ok) return;
  S.frame = r.data;
  S.frame.views.forEach((fv) => { S.revisions[fv.video] = fv.revision; });
  await refreshGeometry();
  drawAll();
}

async function undo() {
  const last = S.undo.pop();
  if (!last) return;
  if (last.frameIndex !== S.frameIndex) await loadFrame(last.frameIndex);
  S.bp = last.bp;
  renderSide();
  await setPoint(last.viewIndex, last.bp, last.ind, last.old, false);
}

function labelledEverywhere(bp) {
  return S.frame.views.every((fv) => fv.labels[S.ind][bp]);
}

function advanceBodypart() {
  const n = S.info.bodyparts.length;
  if (!labelledEverywhere(S.bp)) return;
  for (let step = 1; step < n; step++) {
    const k = (S.bp + step) % n;
    if (!labelledEverywhere(k)) { selectBodypart(k); return; }
  }
}

function selectBodypart(k) {
  const n = S.info.bodyparts.length;
  S.bp = ((k % n) + n) % n;
  renderSide();
  refreshGeometry();
  drawAll();
}

function acceptCurrent(all) {
  const bps = all ? S.info.bodyparts.map((_, k) => k) : [S.bp];
  S.frame.views.forEach((fv, vi) => bps.forEach((k) => {
    if (fv.labels[S.ind][k]) return;
    const g = S.geometry;
    const proposal = g && g.proposed && g.proposed[vi] ? g.proposed[vi][k] : null;
    const prediction = fv.predictions ? fv.predictions[S.ind][k] : null;
    const p = all ? prediction || proposal : proposal || prediction;
    if (p) setPoint(vi, k, S.ind, [p[0], p[1]]);
  }));
}

// ------------------------------------------------------------------ pointer and keys

function nearest(v, cx, cy) {
  // the closest visible point (label of any body part, or the prediction/proposal of an unlabelled one)
  if (S.hidden) return null;
  const fv = S.frame.views[v.index];
  let best = null;
  const consider = (p, k, kind) => {
    if (!p) return;
    const [px, py] = toCanvas(v, p[0], p[1]);
    const d = Math.hypot(px - cx, py - cy);
    if (d <= HIT_RADIUS && (!best || d < best.d)) best = {k, kind, d, p};
  };
  fv.labels[S.ind].forEach((p, k) => consider(p, k, "label"));
  if (best) return best;
  if (fv.predictions) fv.predictions[S.ind].forEach((p, k) => { if (!fv.labels[S.ind][k]) consider(p, k, "prediction"); });
  const g = S.geometry;
  if (g && g.proposed && g.proposed[v.index]) {
    g.proposed[v.index].forEach((p, k) => { if (!fv.labels[S.ind][k]) consider(p, k, "proposal"); });
  }
  return best;
}

function attachPointer(v) {
  const c = v.canvas;
  c.addEventListener("contextmenu", (e) => e.preventDefault());
  c.addEventListener("pointerdown", (e) => {
    if (!S.frame) return;
    c.setPointerCapture(e.pointerId);
    const [cx, cy] = eventPos(v, e);
    const hit = e.button === 0 ? nearest(v, cx, cy) : null;
    S.drag = {v, x0: cx, y0: cy, last: [cx, cy], moved: false, pan: e.button !== 0, hit};
  });
  c.addEventListener("pointermove", (e) => {
    const [cx, cy] = eventPos(v, e);
    S.hover = {v, cx, cy};
    const d = S.drag;
    if (!d || d.v !== v) return;
    // a grabbed point follows the smallest movement (fine corrections when zoomed in); an empty-image press
    // becomes a pan only past PAN_THRESHOLD, so that a slightly shaky click still places a point
    if (Math.hypot(cx - d.x0, cy - d.y0) > (d.hit ? 0.1 : PAN_THRESHOLD)) d.moved = true;
    if (d.hit && d.moved) {
      const fv = S.frame.views[v.index];
      const [x, y] = toImage(v, cx, cy);
      if (d.hit.kind === "label") fv.labels[S.ind][d.hit.k] = [x, y];
      d.dragTo = [x, y];
      draw(v);
    } else if (!d.hit && d.moved) {
      v.ox += cx - d.last[0];
      v.oy += cy - d.last[1];
      v.userZoom = true;
      S.zoom[v.name] = {scale: v.scale, ox: v.ox, oy: v.oy, userZoom: true};
      draw(v);
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
      if (d.moved) {
        const [x, y] = toImage(v, cx, cy);
        if (d.hit.kind === "label") fv.labels[S.ind][d.hit.k] = d.hit.p;  // restored, so that undo has the old value
        S.bp = d.hit.k;
        setPoint(v.index, d.hit.k, S.ind, [x, y]);
      } else if (d.hit.kind !== "label") {
        setPoint(v.index, d.hit.k, S.ind, [d.hit.p[0], d.hit.p[1]]);  // a click on a proposal accepts it
      } else {
        S.bp = d.hit.k;  // a click on a label selects its body part
      }
      renderSide();
      refreshGeometry();
      return;
    }
    if (d.moved) return;  // that was a pan
    const [x, y] = toImage(v, cx, cy);
    setPoint(v.index, S.bp, S.ind, [x, y]);
    advanceBodypart();
  });
  c.addEventListener("pointerleave", () => { S.hover = null; });
  c.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [cx, cy] = eventPos(v, e);
    const f = Math.exp(-e.deltaY * 0.0015);
    v.ox = cx - (cx - v.ox) * f;
    v.oy = cy - (cy - v.oy) * f;
    v.scale *= f;
    v.userZoom = true;
    S.zoom[v.name] = {scale: v.scale, ox: v.ox, oy: v.oy, userZoom: true};
    draw(v);
  }, {passive: false});
}

function onKey(e) {
  if (!S.frame || e.target.tagName === "SELECT" || e.target.tagName === "INPUT") return;
  const key = e.key;
  let handled = true;
  if (key === "ArrowRight" || key === "d" || key === "PageDown") loadFrame(S.frameIndex + 1);
  else if (key === "ArrowLeft" || key === "a" || key === "PageUp") loadFrame(S.frameIndex - 1);
  else if (key === "ArrowDown" || key === "s" || (key === "Tab" && !e.shiftKey)) selectBodypart(S.bp + 1);
  else if (key === "ArrowUp" || key === "w" || (key === "Tab" && e.shiftKey)) selectBodypart(S.bp - 1);
  else if (key === "z" || key === "Z") undo();
  else if (key === "h") { S.hidden = !S.hidden; drawAll(); }
  else if (key === "f") { S.views.forEach((v) => { fit(v); draw(v); }); }
  else if (key === "Enter") acceptCurrent(e.shiftKey);
  else if (key === "Delete" || key === "Backspace") {
    const vi = S.hover ? S.hover.v.index : S.frame.views.findIndex((fv) => fv.labels[S.ind][S.bp]);
    if (vi >= 0 && S.frame.views[vi].labels[S.ind][S.bp]) setPoint(vi, S.bp, S.ind, null);
  } else handled = false;
  if (handled) e.preventDefault();
}

// ------------------------------------------------------------------ start

async function start() {
  const r = await api("/api/session");
  if (!r.ok) { message(r.data.error, "error"); return; }
  S.info = r.data;
  const sel = $("bodypart");
  S.info.bodyparts.forEach((name, k) => sel.append(new Option(name, String(k))));
  sel.onchange = () => selectBodypart(Number(sel.value));
  const isel = $("individual");
  S.info.individuals.forEach((name, i) => isel.append(new Option(name, String(i))));
  isel.onchange = () => { S.ind = Number(isel.value); refreshGeometry(); drawAll(); };
  $("individual-box").hidden = !S.info.multi_animal;
  $("accept-all").hidden = !S.info.refinement;
  $("prev-frame").onclick = () => loadFrame(S.frameIndex - 1);
  $("next-frame").onclick = () => loadFrame(S.frameIndex + 1);
  $("undo").onclick = undo;
  $("hide").onclick = () => { S.hidden = !S.hidden; drawAll(); };
  $("fit").onclick = () => S.views.forEach((v) => { fit(v); draw(v); });
  $("accept").onclick = () => acceptCurrent(false);
  $("accept-all").onclick = () => acceptCurrent(true);
  $("message-close").onclick = () => message("");
  document.addEventListener("keydown", onKey);
  window.addEventListener("beforeunload", (e) => { if (S.pending > 0) { e.preventDefault(); e.returnValue = ""; } });
  if (S.info.warnings.length) message(S.info.warnings.join("\n"));
  if (!S.info.frames.length) { message("no frames to label", "error"); return; }
  await loadFrame(0);
  setStatus();
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
  idle: () => S.queue.then(() => S.pending === 0),
  imagesLoaded: () => S.views.length > 0 && S.views.every((v) => v.img && v.img.complete && v.img.naturalWidth > 0),
};

start();
