// The live operations map (/ops): drivers from the admin area subscription of /v1/track, H3 cells counted
// here with h3-js, open orders and saga transitions from GET /v1/ops/orders, regions from GET /v1/regions.
// Drawn on a canvas in Web Mercator (so an optional tile base map lines up), with a graticule and a scale.
// What is drawn is mirrored in data-* attributes of <body> and the side lists, for tests and for people.
import { cellToBoundary, cellToLatLng, latLngToCell } from '/ops/h3-js.es.js';

const cfg = JSON.parse(document.getElementById('ops-config').textContent);
const TILE = 256;
/** The orders poll: offers show within a second of the saga's commit (each poll is one audited admin request). */
const ORDERS_POLL_MS = 1000;
const REGIONS_POLL_MS = 5000;
/** Wider than this (degrees of longitude) and the page subscribes to nothing: a country of drivers is not a map. */
const MAX_SUBSCRIBED_SPAN = 4;
/** A lost driver stays drawn this long past the offline threshold, then is forgotten. */
const FORGET_AFTER_MS = cfg.offlineMs * 2;
const OFFER_FLASH_MS = 4000;
/** The newest transitions listed: what an operator reads at a glance. */
const EVENTS_SHOWN = 12;
const COLORS = { live: '#1f9d55', degraded: '#e3a008', lost: '#c53030' };

const $ = (id) => document.getElementById(id);
const canvas = $('map');
const ctx = canvas.getContext('2d');
const params = new URLSearchParams(location.hash.slice(1));

const state = {
  token: params.get('token') || '',
  /** Web Mercator view: the world pixel at the canvas's top-left corner, integer zoom. */
  view: { zoom: 3, x: 0, y: 0 },
  /** driverId → { lat, lng, ageMs, at (performance.now() when received), moved } */
  drivers: new Map(),
  movedCount: 0,
  orders: [],
  /** Server clock minus ours, from the last orders answer. */
  clockOffset: 0,
  since: 0,
  events: [],
  /** orderId → { driverId, until } of offers made moments ago. */
  flashes: new Map(),
  offersSeen: 0,
  regions: [],
  ws: undefined,
  subscribed: undefined,
  fitted: false,
  dirty: true,
  tiles: new Map(),
};

// ── projection ───────────────────────────────────────────────────────────────
const worldSize = (z) => TILE * 2 ** z;
function project(lat, lng, z = state.view.zoom) {
  const s = Math.sin((Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI) / 180);
  return { x: ((lng + 180) / 360) * worldSize(z), y: (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * worldSize(z) };
}
function unproject(x, y, z = state.view.zoom) {
  const n = Math.PI - (2 * Math.PI * y) / worldSize(z);
  return { lat: (180 / Math.PI) * Math.atan(Math.sinh(n)), lng: (x / worldSize(z)) * 360 - 180 };
}
const toScreen = (lat, lng) => {
  const p = project(lat, lng);
  return { x: p.x - state.view.x, y: p.y - state.view.y };
};
function viewBbox() {
  const nw = unproject(state.view.x, state.view.y);
  const se = unproject(state.view.x + canvas.clientWidth, state.view.y + canvas.clientHeight);
  return [Math.max(-180, nw.lng), Math.max(-85, se.lat), Math.min(180, se.lng), Math.min(85, nw.lat)];
}
function fitBbox([w, s, e, n]) {
  const width = canvas.clientWidth || 800;
  const height = canvas.clientHeight || 600;
  let z = 18;
  while (z > 1) {
    const a = project(n, w, z);
    const b = project(s, e, z);
    if (b.x - a.x <= width * 0.9 && b.y - a.y <= height * 0.9) break;
    z--;
  }
  const c = project((s + n) / 2, (w + e) / 2, z);
  state.view = { zoom: z, x: c.x - width / 2, y: c.y - height / 2 };
  state.fitted = true;
  onViewChanged();
}

// ── staleness, H3 ──────────────────────────────────────────────────────────────
function ageOf(d, now = performance.now()) {
  return d.ageMs + (now - d.at);
}
function linkState(ageMs) {
  if (ageMs > cfg.offlineMs) return 'lost';
  return ageMs > cfg.degradedMs ? 'degraded' : 'live';
}
/** About 6 hexagons across a 300-pixel stretch at any zoom: res 7 at zoom 12 (a city), res 9 at zoom 14. */
const cellRes = () => Math.max(0, Math.min(11, state.view.zoom - 5));

// ── drawing ────────────────────────────────────────────────────────────────────
function resize() {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * dpr);
  canvas.height = Math.round(canvas.clientHeight * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  state.dirty = true;
}

function drawTiles() {
  if (!cfg.tileUrl) return;
  const z = state.view.zoom;
  const n = 2 ** z;
  const x0 = Math.floor(state.view.x / TILE);
  const y0 = Math.floor(state.view.y / TILE);
  for (let tx = x0; tx * TILE < state.view.x + canvas.clientWidth; tx++) {
    for (let ty = Math.max(0, y0); ty * TILE < state.view.y + canvas.clientHeight && ty < n; ty++) {
      const wx = ((tx % n) + n) % n;
      const url = cfg.tileUrl.replace('{z}', z).replace('{x}', wx).replace('{y}', ty);
      let img = state.tiles.get(url);
      if (!img) {
        img = new Image();
        img.onload = () => (state.dirty = true);
        img.src = url;
        state.tiles.set(url, img);
        if (state.tiles.size > 500) state.tiles.delete(state.tiles.keys().next().value);
      }
      if (img.complete && img.naturalWidth) ctx.drawImage(img, tx * TILE - state.view.x, ty * TILE - state.view.y, TILE, TILE);
    }
  }
}

/** A round step (1, 2, 5 × 10^n) near `raw`. */
function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

function drawGrid() {
  const [w, s, e, n] = viewBbox();
  const step = niceStep((e - w) / 6);
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  ctx.strokeStyle = 'rgba(80,90,100,.18)';
  ctx.fillStyle = 'rgba(60,70,80,.65)';
  ctx.lineWidth = 1;
  ctx.font = '11px system-ui, sans-serif';
  for (let lng = Math.ceil(w / step) * step; lng <= e; lng += step) {
    const x = toScreen(0, lng).x;
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, canvas.clientHeight); ctx.stroke();
    ctx.fillText(`${lng.toFixed(digits)}°`, x + 3, canvas.clientHeight - 6);
  }
  for (let lat = Math.ceil(s / step) * step; lat <= n; lat += step) {
    const y = toScreen(lat, 0).y;
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(canvas.clientWidth, y); ctx.stroke();
    ctx.fillText(`${lat.toFixed(digits)}°`, 4, y - 3);
  }
}

function drawScale() {
  const center = unproject(state.view.x + canvas.clientWidth / 2, state.view.y + canvas.clientHeight / 2);
  const metersPerPx = (40075016.686 * Math.cos((center.lat * Math.PI) / 180)) / worldSize(state.view.zoom);
  const meters = niceStep(metersPerPx * 120);
  const px = meters / metersPerPx;
  const x = canvas.clientWidth - px - 16;
  const y = canvas.clientHeight - 18;
  ctx.strokeStyle = '#1d232a';
  ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x, y); ctx.lineTo(x + px, y); ctx.lineTo(x + px, y - 5); ctx.stroke();
  ctx.fillStyle = '#1d232a';
  ctx.fillText(meters >= 1000 ? `${meters / 1000} km` : `${meters} m`, x, y - 8);
}

function drawCells(now) {
  const res = cellRes();
  const counts = new Map();
  for (const d of state.drivers.values()) {
    if (linkState(ageOf(d, now)) === 'lost') continue;
    const cell = latLngToCell(d.lat, d.lng, res);
    counts.set(cell, (counts.get(cell) ?? 0) + 1);
  }
  const max = Math.max(1, ...counts.values());
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (const [cell, count] of counts) {
    const ring = cellToBoundary(cell);
    ctx.beginPath();
    ring.forEach(([lat, lng], i) => {
      const p = toScreen(lat, lng);
      if (i === 0) ctx.moveTo(p.x, p.y); else ctx.lineTo(p.x, p.y);
    });
    ctx.closePath();
    ctx.fillStyle = `rgba(49,130,206,${0.08 + 0.32 * (count / max)})`;
    ctx.fill();
    ctx.strokeStyle = 'rgba(49,130,206,.55)';
    ctx.lineWidth = 1;
    ctx.stroke();
    const [clat, clng] = cellToLatLng(cell);
    const c = toScreen(clat, clng);
    ctx.fillStyle = '#1a4f80';
    ctx.fillText(String(count), c.x, c.y + 4);
  }
  ctx.textAlign = 'start';
  document.body.dataset.cellsDrawn = String(counts.size);
  $('cell-res').textContent = String(res);
}

function drawOrders(now) {
  const serverNow = Date.now() + state.clockOffset;
  let withDriver = 0;
  for (const o of state.orders) {
    const p = toScreen(o.pickup.lat, o.pickup.lng);
    const d = o.driverId ? state.drivers.get(o.driverId) : undefined;
    if (d) {
      const q = toScreen(d.lat, d.lng);
      ctx.strokeStyle = o.state === 'accepted' ? 'rgba(29,35,42,.7)' : 'rgba(107,70,193,.8)';
      ctx.setLineDash(o.state === 'accepted' ? [] : [5, 4]);
      ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(q.x, q.y); ctx.lineTo(p.x, p.y); ctx.stroke();
      ctx.setLineDash([]);
      withDriver++;
    }
    // The pickup: a square, filled once a driver has accepted.
    ctx.fillStyle = o.state === 'accepted' ? '#1d232a' : o.state === 'offered' ? '#6b46c1' : '#fff';
    ctx.strokeStyle = o.state === 'searching' ? '#718096' : '#1d232a';
    ctx.lineWidth = 1.5;
    ctx.fillRect(p.x - 4, p.y - 4, 8, 8);
    ctx.strokeRect(p.x - 4, p.y - 4, 8, 8);
    if (o.etaAt !== null && o.state === 'accepted') {
      ctx.fillStyle = '#1d232a';
      ctx.fillText(`ETA ${fmtSeconds((o.etaAt - serverNow) / 1000)}`, p.x + 7, p.y - 6);
    }
  }
  // Offers made moments ago: a flash from the driver to the pickup, whatever became of them since.
  for (const [orderId, f] of state.flashes) {
    if (now > f.until) { state.flashes.delete(orderId); continue; }
    const d = state.drivers.get(f.driverId);
    if (!d || !f.pickup) continue;
    const a = toScreen(d.lat, d.lng);
    const b = toScreen(f.pickup.lat, f.pickup.lng);
    ctx.strokeStyle = `rgba(107,70,193,${(f.until - now) / OFFER_FLASH_MS})`;
    ctx.lineWidth = 4;
    ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
  }
  document.body.dataset.ordersDrawn = String(state.orders.length);
  document.body.dataset.ordersWithDriver = String(withDriver);
}

function drawDrivers(now) {
  const role = new Map();
  for (const o of state.orders) if (o.driverId) role.set(o.driverId, o.state);
  let drawn = 0;
  const byState = { live: 0, degraded: 0, lost: 0 };
  for (const [id, d] of state.drivers) {
    const age = ageOf(d, now);
    if (age > FORGET_AFTER_MS) { state.drivers.delete(id); continue; }
    const link = linkState(age);
    byState[link]++;
    const p = toScreen(d.lat, d.lng);
    if (p.x < -10 || p.y < -10 || p.x > canvas.clientWidth + 10 || p.y > canvas.clientHeight + 10) continue;
    drawn++;
    ctx.beginPath();
    ctx.arc(p.x, p.y, 4.5, 0, 2 * Math.PI);
    ctx.fillStyle = COLORS[link];
    ctx.fill();
    const on = role.get(id);
    if (on) {
      ctx.setLineDash(on === 'offered' ? [3, 2] : []);
      ctx.strokeStyle = on === 'offered' ? '#6b46c1' : '#1d232a';
      ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(p.x, p.y, 7, 0, 2 * Math.PI); ctx.stroke();
      ctx.setLineDash([]);
    }
  }
  const b = document.body.dataset;
  b.driversDrawn = String(drawn);
  b.driversMoved = String(state.movedCount);
  b.driversLive = String(byState.live);
  b.driversDegraded = String(byState.degraded);
  b.driversLost = String(byState.lost);
  $('counts').textContent = `${drawn} drivers drawn (${byState.live} live, ${byState.degraded} degraded, ${byState.lost} lost) · ${state.orders.length} open orders`;
}

function render() {
  if (!state.dirty) return;
  state.dirty = false;
  const now = performance.now();
  ctx.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  drawTiles();
  drawGrid();
  drawCells(now);
  drawOrders(now);
  drawDrivers(now);
  drawScale();
  renderOrderList();
}

function fmtDuration(ms) {
  const s = ms / 1000;
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

function fmtSeconds(s) {
  const v = Math.max(0, Math.round(s));
  return `${Math.floor(v / 60)}:${String(v % 60).padStart(2, '0')}`;
}

/** The side list: one row per open order, its state, driver (and whether that driver is drawn) and ETA. */
function renderOrderList() {
  const list = $('ops-orders');
  const serverNow = Date.now() + state.clockOffset;
  const rows = state.orders.slice(0, 200).map((o) => {
    const li = document.createElement('li');
    li.dataset.orderId = o.orderId;
    li.dataset.state = o.state;
    li.dataset.driverId = o.driverId ?? '';
    li.dataset.driverDrawn = String(o.driverId !== null && state.drivers.has(o.driverId));
    if (o.etaS !== null) li.dataset.etaS = String(o.etaS);
    const st = document.createElement('span');
    st.className = 'state';
    st.textContent = o.state;
    li.append(st, ` ${o.orderId}`);
    if (o.driverId) li.append(` → ${o.driverId}`);
    if (o.state === 'accepted' && o.etaAt !== null) li.append(` · ETA ${fmtSeconds((o.etaAt - serverNow) / 1000)}`);
    if (o.state === 'offered' && o.offerExpiresAt !== null) li.append(` · offer ends in ${fmtSeconds((o.offerExpiresAt - serverNow) / 1000)}`);
    return li;
  });
  list.replaceChildren(...rows);
  $('orders-count').textContent = `(${state.orders.length}${state.truncated ? '+' : ''})`;
}

// ── the tracking socket: admin area subscription ───────────────────────────────
function setWs(s) {
  document.body.dataset.ws = s;
  $('ws-state').textContent = s === 'open' ? 'live' : s;
}
function showError(msg) {
  const el = $('error');
  el.hidden = !msg;
  el.textContent = msg || '';
}

let backoffMs = 500;
function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/v1/track?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  state.subscribed = undefined;
  setWs('connecting');
  let opened = false;
  ws.onopen = () => {
    opened = true;
    backoffMs = 500;
    setWs('open');
    onViewChanged();
  };
  ws.onmessage = (m) => onFrame(JSON.parse(m.data));
  ws.onclose = (e) => {
    setWs('closed');
    // A browser hides why an upgrade was refused; the orders poll, with the same token, shows the code.
    if (!opened) showError('tracking socket refused or unreachable: is the token an admin token with a recent second factor, and unexpired? Retrying.');
    else if (e.code >= 4000) showError(`tracking socket closed: ${e.code} ${e.reason}`);
    setTimeout(connect, backoffMs);
    backoffMs = Math.min(10_000, backoffMs * 2);
  };
}

function onFrame(f) {
  if (f.type === 'position' && f.bbox) {
    const old = state.drivers.get(f.driverId);
    if (old && f.ts < old.ts) return;
    const moved = old !== undefined && (old.lat !== f.lat || old.lng !== f.lng);
    if (moved && !old.moved) state.movedCount++;
    state.drivers.set(f.driverId, { lat: f.lat, lng: f.lng, ts: f.ts, ageMs: f.ageMs, at: performance.now(), moved: old?.moved || moved });
    state.dirty = true;
  } else if (f.type === 'error') {
    showError(`${f.code}: ${f.message}`);
  }
}

/** Subscribes to the view (padded by half its size) when it is not inside the box already followed. */
function onViewChanged() {
  state.dirty = true;
  const [w, s, e, n] = viewBbox();
  const tooWide = e - w > MAX_SUBSCRIBED_SPAN;
  $('hint').hidden = !tooWide;
  $('hint').textContent = tooWide ? 'Zoom in to a city to see its drivers (the page follows at most a few degrees).' : '';
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || tooWide) return;
  const cur = state.subscribed;
  if (cur && w >= cur[0] && s >= cur[1] && e <= cur[2] && n <= cur[3]) return;
  const dw = (e - w) / 2;
  const dh = (n - s) / 2;
  const round = (v) => Math.round(v * 1e4) / 1e4;
  const box = [round(Math.max(-180, w - dw)), round(Math.max(-90, s - dh)), round(Math.min(180, e + dw)), round(Math.min(90, n + dh))];
  // The new box first, then the old one let go: no position falls between.
  ws.send(JSON.stringify({ type: 'subscribe_area', bbox: box }));
  if (cur) ws.send(JSON.stringify({ type: 'unsubscribe_area', bbox: cur }));
  state.subscribed = box;
}

// ── orders, offers, regions (HTTP polls) ─────────────────────────────────────────
/** A GET of the gateway; `token`: with the admin token (every such request is an audited admin action). */
async function api(path, token = true) {
  const r = await fetch(path, { headers: token ? { authorization: `Bearer ${state.token}` } : {}, cache: 'no-store' });
  const body = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${body.code}: ${body.message}`);
  return body;
}

async function pollOrders() {
  try {
    const snap = await api(`/v1/ops/orders?since=${state.since}`);
    state.orders = snap.orders;
    state.truncated = snap.truncated;
    state.clockOffset = snap.now - Date.now();
    // A seq below ours: that gateway restarted (its numbering too); take everything it holds next time.
    state.since = snap.seq < state.since ? 0 : snap.seq;
    const pickups = new Map(snap.orders.map((o) => [o.orderId, o.pickup]));
    for (const e of snap.events) {
      if (e.type === 'offered' && e.driverId) {
        state.offersSeen++;
        state.flashes.set(e.orderId, { driverId: e.driverId, pickup: pickups.get(e.orderId), until: performance.now() + OFFER_FLASH_MS });
      }
      state.events.unshift(e);
    }
    state.events.length = Math.min(state.events.length, EVENTS_SHOWN);
    renderEvents();
    if (!state.fitted && snap.orders.length > 0) fitToOrders(snap.orders);
    showError('');
    state.dirty = true;
  } catch (err) {
    showError(err.message);
  }
  setTimeout(pollOrders, ORDERS_POLL_MS);
}

function fitToOrders(orders) {
  let w = 180, s = 90, e = -180, n = -90;
  for (const o of orders) {
    w = Math.min(w, o.pickup.lng); e = Math.max(e, o.pickup.lng);
    s = Math.min(s, o.pickup.lat); n = Math.max(n, o.pickup.lat);
  }
  const pad = 0.01;
  fitBbox([w - pad, s - pad, e + pad, n + pad]);
}

function renderEvents() {
  document.body.dataset.offersSeen = String(state.offersSeen);
  const serverNow = Date.now() + state.clockOffset;
  $('ops-events').replaceChildren(...state.events.map((e) => {
    const li = document.createElement('li');
    li.dataset.type = e.type;
    li.dataset.orderId = e.orderId;
    const ago = Math.max(0, Math.round((serverNow - e.at) / 1000));
    li.textContent = `${ago}s ago ${e.type} ${e.orderId}${e.driverId ? ` ${e.driverId}` : ''}${e.reason ? ` (${e.reason})` : ''}`;
    return li;
  }));
}

async function pollRegions() {
  try {
    // Public: asked without the token, so the audit trail does not get a line every 5 s per open page.
    const r = await api('/v1/regions', false);
    $('region-name').textContent = r.region === 'default' ? '' : `· ${r.region}`;
    // One region is the deployment itself: the panel shows only when there are several.
    $('regions-panel').hidden = r.regions.length < 2;
    document.body.dataset.regions = String(r.regions.length);
    $('ops-regions').replaceChildren(...r.regions.map((g) => {
      const li = document.createElement('li');
      li.dataset.region = g.name;
      li.dataset.reachable = String(g.reachable);
      const load = g.load ? ` · ${g.load.connectedDrivers} drivers, ${Math.round(g.load.pingsPerSec)} pings/s` : '';
      li.textContent = `${g.self ? '● ' : ''}${g.name}: ${g.reachable ? (g.ready ? 'ready' : 'not ready') : 'unreachable'}${g.rttMs !== undefined ? ` · ${Math.round(g.rttMs)} ms` : ''}${load}`;
      return li;
    }));
  } catch (err) {
    showError(err.message);
  }
  setTimeout(pollRegions, REGIONS_POLL_MS);
}

// ── interaction ───────────────────────────────────────────────────────────────
let drag;
canvas.addEventListener('pointerdown', (e) => {
  drag = { x: e.clientX, y: e.clientY };
  canvas.classList.add('dragging');
  canvas.setPointerCapture(e.pointerId);
});
canvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  state.view.x -= e.clientX - drag.x;
  state.view.y -= e.clientY - drag.y;
  drag = { x: e.clientX, y: e.clientY };
  state.dirty = true;
});
canvas.addEventListener('pointerup', () => {
  drag = undefined;
  canvas.classList.remove('dragging');
  state.fitted = true;
  onViewChanged();
});
canvas.addEventListener('wheel', (e) => {
  e.preventDefault();
  const z = Math.max(2, Math.min(19, state.view.zoom + (e.deltaY < 0 ? 1 : -1)));
  if (z === state.view.zoom) return;
  const rect = canvas.getBoundingClientRect();
  const at = unproject(state.view.x + e.clientX - rect.left, state.view.y + e.clientY - rect.top);
  const p = project(at.lat, at.lng, z);
  state.view = { zoom: z, x: p.x - (e.clientX - rect.left), y: p.y - (e.clientY - rect.top) };
  state.fitted = true;
  onViewChanged();
}, { passive: false });
window.addEventListener('resize', () => { resize(); onViewChanged(); });

function frame() {
  render();
  requestAnimationFrame(frame);
}

function start() {
  $('degraded-s').textContent = fmtDuration(cfg.degradedMs);
  $('offline-s').textContent = fmtDuration(cfg.offlineMs);
  resize();
  const bbox = params.get('bbox')?.split(',').map(Number);
  if (bbox?.length === 4 && bbox.every(Number.isFinite)) fitBbox(bbox);
  else state.view = { zoom: 3, ...(({ x, y }) => ({ x: x - canvas.clientWidth / 2, y: y - canvas.clientHeight / 2 }))(project(30, 10, 3)) };
  onViewChanged();
  // Ages and countdowns move on without frames: redraw every second.
  setInterval(() => { state.dirty = true; renderEvents(); }, 1000);
  requestAnimationFrame(frame);
  if (!state.token) {
    $('token-form').hidden = false;
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      state.token = $('token-input').value.trim();
      if (!state.token) return;
      params.set('token', state.token);
      history.replaceState(null, '', `#${params}`);
      $('token-form').hidden = true;
      begin();
    });
    return;
  }
  begin();
}

function begin() {
  connect();
  pollOrders();
  pollRegions();
}

start();
