// gan_notes live training view (anywidget ESM). The kernel sends arrays (float32/uint8 buffers) in the `frame` trait;
// this module draws them on canvases: D's surface as a heatmap, G's manifold, real and generated samples, the
// generator's gradient as arrows, the curves, and the controls (pause, step, stop, learning rates) that message the kernel.

const REAL = [27, 120, 55], FAKE = [118, 42, 131];      // dark green, dark purple (the heatmap's ends, pale)

function f32(v) {
  if (!v) return new Float32Array(0);
  if (v instanceof Float32Array) return v;
  const b = v.buffer ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v;
  return new Float32Array(b);
}
function u8(v) {
  if (!v) return new Uint8Array(0);
  return new Uint8Array(v.buffer ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v);
}
function el(tag, attrs = {}, parent = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'style') Object.assign(e.style, v); else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  if (parent) parent.appendChild(e);
  return e;
}
function canvas(parent, w, h) {
  const c = el('canvas', {}, parent), r = window.devicePixelRatio || 1;
  c.width = Math.round(w * r); c.height = Math.round(h * r); c.style.width = w + 'px'; c.style.height = h + 'px';
  const ctx = c.getContext('2d'); ctx.scale(r, r);
  return { c, ctx, w, h };
}
function fmt(v) {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(1);
  return (+v.toPrecision(3)).toString();
}
// diverging colour ramp (matplotlib's PRGn, lightened): t = 0 -> purple (looks generated to D), 0.5 -> white, 1 -> green (looks real)
function ramp(t) {
  t = Math.min(1, Math.max(0, t));
  const a = [196, 162, 207], m = [247, 247, 247], b = [153, 209, 149];
  const [p, q, s] = t < 0.5 ? [a, m, t * 2] : [m, b, (t - 0.5) * 2];
  return [p[0] + (q[0] - p[0]) * s, p[1] + (q[1] - p[1]) * s, p[2] + (q[2] - p[2]) * s];
}

function drawPlaceholder(p, text) {
  const { ctx, w, h } = p;
  ctx.clearRect(0, 0, w, h); ctx.fillStyle = '#f6f6f6'; ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = '#888'; ctx.font = '13px sans-serif'; ctx.textAlign = 'center'; ctx.fillText(text, w / 2, h / 2);
  ctx.textAlign = 'left';
}

function drawToy(p, f, setup) {
  const { ctx, w, h } = p, [x0, x1, y0, y1] = f.bounds;
  const sx = x => (x - x0) / (x1 - x0) * w, sy = y => h - (y - y0) / (y1 - y0) * h;
  ctx.clearRect(0, 0, w, h); ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  if (f.heat) {                                    // D's surface: one pixel per grid value, scaled up smoothly
    const n = f.heat_n, v = f32(f.heat), [lo, hi] = f.heat_range, img = new ImageData(n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const c = ramp((v[i * n + j] - lo) / (hi - lo || 1)), k = ((n - 1 - i) * n + j) * 4;   // row i is y-index i
      img.data[k] = c[0]; img.data[k + 1] = c[1]; img.data[k + 2] = c[2]; img.data[k + 3] = 255;
    }
    const off = document.createElement('canvas'); off.width = n; off.height = n; off.getContext('2d').putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true; ctx.drawImage(off, 0, 0, w, h);
  }
  if (f.manifold) {                                 // G's image of a latent grid: its rows and its columns
    const g = f.manifold_n, m = f32(f.manifold);
    ctx.strokeStyle = 'rgba(60,60,60,0.35)'; ctx.lineWidth = 0.8;
    for (let dir = 0; dir < 2; dir++) for (let a = 0; a < g; a++) {
      ctx.beginPath();
      for (let b = 0; b < g; b++) {
        const idx = (dir ? b * g + a : a * g + b) * 2;
        if (b) ctx.lineTo(sx(m[idx]), sy(m[idx + 1])); else ctx.moveTo(sx(m[idx]), sy(m[idx + 1]));
      }
      ctx.stroke();
    }
  }
  const dots = (arr, col, alpha, r) => {
    ctx.fillStyle = `rgba(${col[0]},${col[1]},${col[2]},${alpha})`;
    for (let i = 0; i + 1 < arr.length; i += 2) ctx.fillRect(sx(arr[i]) - r / 2, sy(arr[i + 1]) - r / 2, r, r);
  };
  dots(setup.real, REAL, 0.5, 3);
  dots(f32(f.fake), FAKE, 0.7, 3);
  if (f.arrows) {                                   // -dL_G/dx on a subset of fakes: where G's step moves them
    const a = f32(f.arrows), s = f.arrow_scale;
    ctx.strokeStyle = 'rgba(20,20,20,0.8)'; ctx.lineWidth = 1;
    for (let i = 0; i + 3 < a.length; i += 4) {
      const xa = sx(a[i]), ya = sy(a[i + 1]), xb = sx(a[i] + s * a[i + 2]), yb = sy(a[i + 1] + s * a[i + 3]);
      const L = Math.hypot(xb - xa, yb - ya);
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xb, yb);
      if (L > 3) {
        const ux = (xb - xa) / L, uy = (yb - ya) / L, hh = Math.min(4, L / 2);
        ctx.moveTo(xb, yb); ctx.lineTo(xb - hh * (ux - 0.5 * uy), yb - hh * (uy + 0.5 * ux));
        ctx.moveTo(xb, yb); ctx.lineTo(xb - hh * (ux + 0.5 * uy), yb - hh * (uy - 0.5 * ux));
      }
      ctx.stroke();
    }
  }
  if (setup.centers) {
    ctx.strokeStyle = 'rgba(0,0,0,0.55)'; ctx.lineWidth = 1;
    const c = setup.centers;
    for (let i = 0; i + 1 < c.length; i += 2) {
      const x = sx(c[i]), y = sy(c[i + 1]);
      ctx.beginPath(); ctx.moveTo(x - 4, y - 4); ctx.lineTo(x + 4, y + 4); ctx.moveTo(x - 4, y + 4); ctx.lineTo(x + 4, y - 4); ctx.stroke();
    }
  }
}

function drawImages(p, f) {
  const { ctx, w, h } = p, [H, W, C] = f.img_shape, px = u8(f.images), img = new ImageData(W, H);
  for (let i = 0; i < H * W; i++) {                 // grey (C = 1) or RGB (C = 3) pixels, row-major
    for (let c = 0; c < 3; c++) img.data[4 * i + c] = px[C === 3 ? 3 * i + c : i];
    img.data[4 * i + 3] = 255;
  }
  const off = document.createElement('canvas'); off.width = W; off.height = H; off.getContext('2d').putImageData(img, 0, 0);
  const s = Math.min(w / W, h / H);
  ctx.clearRect(0, 0, w, h); ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  ctx.imageSmoothingEnabled = false; ctx.drawImage(off, (w - W * s) / 2, (h - H * s) / 2, W * s, H * s);
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
function drawCurves(p, panel, xmax) {
  const { ctx, w, h } = p, L = 38, R = 6, T = 16, B = 16;
  ctx.clearRect(0, 0, w, h); ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = '#222'; ctx.font = '11px sans-serif'; ctx.fillText(panel.title, L, 11);
  const series = panel.series.map(s => ({ name: s.name, x: f32(s.x), y: f32(s.y) })).filter(s => s.x.length);
  if (!series.length) { ctx.fillStyle = '#999'; ctx.fillText('nothing logged yet', L + 10, h / 2); return; }
  const tr = v => panel.log ? Math.log10(Math.max(v, 1e-12)) : v;
  let lo = Infinity, hi = -Infinity;
  for (const s of series) for (const v of s.y) if (isFinite(v)) { lo = Math.min(lo, tr(v)); hi = Math.max(hi, tr(v)); }
  if (panel.ref !== undefined && panel.ref !== null) { lo = Math.min(lo, panel.ref); hi = Math.max(hi, panel.ref); }
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
  const X = x => L + x / Math.max(xmax, 1) * (w - L - R), Y = v => T + (1 - (tr(v) - lo) / (hi - lo)) * (h - T - B);
  ctx.strokeStyle = '#ccc'; ctx.lineWidth = 1; ctx.strokeRect(L, T, w - L - R, h - T - B);
  ctx.fillStyle = '#555'; ctx.font = '10px sans-serif';
  const lab = v => panel.log ? fmt(Math.pow(10, v)) : fmt(v);
  ctx.fillText(lab(hi - pad), 2, T + 8); ctx.fillText(lab(lo + pad), 2, h - B);
  ctx.fillText('0', L, h - 4); ctx.fillText(String(xmax), w - R - 6 * String(xmax).length, h - 4);
  if (panel.ref !== undefined && panel.ref !== null) {
    ctx.strokeStyle = '#999'; ctx.setLineDash([4, 3]); ctx.beginPath();
    const y = T + (1 - (panel.ref - lo) / (hi - lo)) * (h - T - B); ctx.moveTo(L, y); ctx.lineTo(w - R, y); ctx.stroke(); ctx.setLineDash([]);
  }
  let lx = L + 4, ly = T + 11;                       // legend: name and last value, placed one after another, wrapped
  series.forEach((s, k) => {
    ctx.strokeStyle = COLORS[k % COLORS.length]; ctx.lineWidth = 1.3; ctx.beginPath();
    for (let i = 0; i < s.x.length; i++) { const x = X(s.x[i]), y = Y(s.y[i]); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); }
    ctx.stroke();
    const label = `${s.name} ${fmt(s.y[s.y.length - 1])}`, lw = ctx.measureText(label).width;
    if (lx > L + 4 && lx + lw > w - R - 4) { lx = L + 4; ly += 12; }
    ctx.fillStyle = 'rgba(255,255,255,0.8)'; ctx.fillRect(lx - 2, ly - 9, lw + 4, 12);
    ctx.fillStyle = COLORS[k % COLORS.length]; ctx.fillText(label, lx, ly);
    lx += lw + 12;
  });
}

function checksum(f) {       // a short fingerprint of the drawn data, so that a test can see it change
  let s = 0;
  for (const key of ['fake', 'images', 'heat']) {
    const a = key === 'images' ? u8(f[key]) : f32(f[key]);
    for (let i = 0; i < a.length; i += 7) s = (s * 31 + Math.round(a[i] * 1000)) % 1000000007;
  }
  return s;
}

function render({ model, el: root }) {
  const box = el('div', { class: 'gn-live', 'data-frame': '0', 'data-step': '0', 'data-status': 'waiting', 'data-hash': '' , style: {
    fontFamily: 'sans-serif', fontSize: '12px', color: '#222', display: 'flex', flexDirection: 'column', gap: '6px' } }, root);
  const bar = el('div', { style: { display: 'flex', alignItems: 'center', gap: '8px', flexWrap: 'wrap' } }, box);
  const btn = (label, event, title) => {
    const b = el('button', { class: `gn-${event}`, title, text: label, style: { padding: '2px 10px', cursor: 'pointer' } }, bar);
    b.addEventListener('click', () => model.send({ event: event === 'pause' && box.dataset.status === 'paused' ? 'resume' : event }));
    return b;
  };
  const bPause = btn('Pause', 'pause', 'pause before the next step (again: resume)'), bStep = btn('Step', 'step', 'one step (k D updates, one G update) while paused');
  const bStop = btn('Stop', 'stop', 'stop before the next step');
  bStop.style.color = '#b00';
  const prog = el('progress', { max: '1', value: '0', style: { width: '160px' } }, bar);
  const status = el('span', { class: 'gn-status', text: 'waiting for the first frame…' }, bar);
  const sliders = el('div', { style: { display: 'flex', gap: '16px', alignItems: 'center' } }, box);
  const lrs = {};
  for (const player of ['D', 'G']) {
    const wrap = el('label', { style: { display: 'flex', alignItems: 'center', gap: '4px' } }, sliders);
    el('span', { text: `lr ${player}` }, wrap);
    const s = el('input', { type: 'range', min: '-5', max: '-1', step: '0.05', class: `gn-lr-${player}`, style: { width: '140px' } }, wrap);
    const v = el('span', { style: { minWidth: '52px' } }, wrap);
    s.addEventListener('input', () => { v.textContent = fmt(Math.pow(10, +s.value)); });
    s.addEventListener('change', () => model.send({ event: 'lr', player, value: Math.pow(10, +s.value) }));
    lrs[player] = { s, v };
  }
  const main = el('div', { style: { display: 'flex', gap: '10px', alignItems: 'flex-start', flexWrap: 'wrap' } }, box);
  const left = el('div', {}, main);
  const big = canvas(left, 420, 420);
  const legend = el('div', { class: 'gn-legend', style: { maxWidth: '420px', fontSize: '11px', color: '#444' } }, left);
  const right = el('div', { style: { display: 'grid', gridTemplateColumns: 'repeat(2, 280px)', gap: '6px' } }, main);
  let panels = [];
  drawPlaceholder(big, 'waiting for the first frame…');
  let seen = 0;

  const draw = () => {
    const f = model.get('frame') || {}, setup = model.get('setup') || {};
    if (setup.lr) for (const p of ['D', 'G']) if (setup.lr[p] !== undefined) {
      box.dataset['lr' + p] = String(setup.lr[p]);      // what the kernel applies (a test reads it)
      if (document.activeElement !== lrs[p].s) { lrs[p].s.value = Math.log10(setup.lr[p]); lrs[p].v.textContent = fmt(setup.lr[p]); }
    }
    if (!f.n) return;
    const st = { real: f32(setup.real), centers: setup.centers ? f32(setup.centers) : null };
    if (f.kind === 'toy') drawToy(big, f, st);
    else if (f.kind === 'images') drawImages(big, f);
    else drawPlaceholder(big, 'no sample view for this data');
    const curves = f.curves || [];
    if (panels.length !== curves.length) { right.innerHTML = ''; panels = curves.map(() => canvas(right, 280, 150)); }
    curves.forEach((c, i) => drawCurves(panels[i], c, f.xmax || f.step));
    legend.textContent = f.legend || '';
    prog.value = f.total ? (f.done / f.total) : 0;
    status.textContent = `${f.status} · step ${f.step} · ${f.done}/${f.total} · ${fmt(f.rate)} steps/s · frame ${f.n}` + (f.note ? ` · ${f.note}` : '');
    bPause.textContent = f.status === 'paused' ? 'Resume' : 'Pause';
    bStep.disabled = f.status !== 'paused';
    seen += 1;
    box.dataset.frame = String(f.n); box.dataset.step = String(f.step); box.dataset.status = f.status; box.dataset.kind = f.kind;
    if (f.img_shape) box.dataset.imgShape = f.img_shape.join('x');
    box.dataset.hash = String(checksum(f)); box.dataset.draws = String(seen);
  };
  model.on('change:frame', draw);
  model.on('change:setup', draw);
  draw();
  return () => { model.off('change:frame', draw); model.off('change:setup', draw); };
}

export default { render };
