// The debug panel: one EventSource on /api/events, a snapshot a second, drawn on two canvases.
'use strict';
(function () {
  const token = new URLSearchParams(location.search).get('token') || '';
  const q = token ? '?token=' + encodeURIComponent(token) : '';
  const $ = (id) => document.getElementById(id);
  const colors = ['#5ab0ff', '#5fd38d', '#f2c14e', '#ff9f43', '#c792ea', '#ff6b6b', '#4dd0e1', '#e6ee9c'];

  function post(path) {
    const headers = { 'X-Pivot-Panel': '1' };
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(path, { method: 'POST', headers }).then((r) => {
      if (!r.ok) return r.text().then((t) => { throw new Error(t); });
    }).catch((e) => alert(e.message));
  }
  $('reset-all').addEventListener('click', () => post('api/reset'));
  $('workers').addEventListener('click', (ev) => {
    const b = ev.target.closest('button.replace');
    if (b) post('api/workers/replace?pid=' + b.dataset.pid);
  });

  const mb = (n) => (n / 1048576).toFixed(1) + ' MB';
  const age = (s) => s < 120 ? s.toFixed(0) + ' s' : s < 7200 ? (s / 60).toFixed(0) + ' min' : (s / 3600).toFixed(1) + ' h';
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));

  function setup(canvas) {
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = '11px system-ui'; ctx.fillStyle = '#8393a5'; ctx.strokeStyle = '#252e38';
    return ctx;
  }
  function line(ctx, pts, color, x, y) {
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    pts.forEach((p, i) => { if (p == null) { started = false; return; } if (!started) { ctx.moveTo(x(i), y(p)); started = true; } else ctx.lineTo(x(i), y(p)); });
    ctx.stroke();
  }
  const num = (v) => v >= 10 ? Math.round(v).toString() : v.toFixed(1);
  const nice = (m) => { if (m <= 0) return 1; const e = Math.pow(10, Math.floor(Math.log10(m))); return Math.ceil(m / e) * e; };

  // the charts span from the first second with data (at least a minute) to now
  function trim(series) {
    const first = series.findIndex((p) => p.rps > 0);
    return first < 0 ? series.slice(-60) : series.slice(Math.min(first, series.length - 60));
  }

  function drawTraffic(series) {
    series = trim(series);
    const c = $('traffic'), ctx = setup(c), L = 44, R = 50, T = 10, B = 20, w = c.width - L - R, h = c.height - T - B;
    const maxR = nice(Math.max(1, ...series.map((p) => p.rps)));
    const maxL = nice(Math.max(1, ...series.map((p) => p.p99)));
    const x = (i) => L + (i + 0.5) * w / series.length;
    for (let k = 0; k <= 4; k++) {
      const yy = T + h - k * h / 4;
      ctx.strokeStyle = '#252e38'; ctx.beginPath(); ctx.moveTo(L, yy); ctx.lineTo(L + w, yy); ctx.stroke();
      ctx.fillStyle = '#8393a5'; ctx.fillText(String(Math.round(maxR * k / 4)), 4, yy + 4); ctx.fillText(num(maxL * k / 4), L + w + 6, yy + 4);
    }
    const bw = Math.max(1, w / series.length - 1);
    series.forEach((p, i) => {
      if (!p.rps) return;
      const bh = p.rps / maxR * h; ctx.fillStyle = 'rgba(90,176,255,0.55)'; ctx.fillRect(x(i) - bw / 2, T + h - bh, bw, bh);
      if (p.errors) { const eh = p.errors / maxR * h; ctx.fillStyle = '#ff6b6b'; ctx.fillRect(x(i) - bw / 2, T + h - eh, bw, eh); }
    });
    const yl = (v) => T + h - v / maxL * h;
    [['p50', '#5fd38d'], ['p90', '#f2c14e'], ['p99', '#ff9f43']].forEach(([k, col]) => line(ctx, series.map((p) => p.rps ? p[k] : null), col, x, yl));
    ctx.fillStyle = '#8393a5'; ctx.fillText('-' + series.length + ' s', L, c.height - 4); ctx.fillText('now', L + w - 20, c.height - 4);
  }

  function drawMemory(workers, now) {
    const c = $('memory'), ctx = setup(c), L = 56, T = 10, B = 20, w = c.width - L - 10, h = c.height - T - B;
    const max = nice(Math.max(1048576, ...workers.flatMap((wk) => wk.memory.map((s) => s.rss))));
    for (let k = 0; k <= 4; k++) {
      const yy = T + h - k * h / 4;
      ctx.strokeStyle = '#252e38'; ctx.beginPath(); ctx.moveTo(L, yy); ctx.lineTo(L + w, yy); ctx.stroke();
      ctx.fillStyle = '#8393a5'; ctx.fillText(mb(max * k / 4), 2, yy + 4);
    }
    const oldest = Math.min(now - 60, ...workers.flatMap((wk) => wk.memory.map((s) => s.t)));
    const span = Math.max(60, now - oldest);
    const x = (t) => L + (1 - (now - t) / span) * w, y = (v) => T + h - v / max * h;
    ctx.fillStyle = '#8393a5'; ctx.fillText('-' + span + ' s', L, c.height - 4); ctx.fillText('now', L + w - 20, c.height - 4);
    const legend = [];
    workers.forEach((wk, i) => {
      const col = colors[i % colors.length];
      ctx.strokeStyle = col; ctx.lineWidth = 1.5; ctx.beginPath();
      wk.memory.forEach((s, j) => (j ? ctx.lineTo(x(s.t), y(s.rss)) : ctx.moveTo(x(s.t), y(s.rss))));
      ctx.stroke();
      legend.push('<i class="k" style="background:' + col + '"></i>' + wk.pid);
    });
    $('memory-legend').innerHTML = legend.join(' ');
  }

  function render(s) {
    const last = s.series.length ? s.series[s.series.length - 1] : { rps: 0, p50: 0, p99: 0 };
    const minute = s.series.slice(-60);
    $('rps-now').textContent = last.rps;
    $('p50-now').textContent = last.rps ? last.p50.toPrecision(3) : '–';
    $('p99-now').textContent = last.rps ? last.p99.toPrecision(3) : '–';
    $('inflight').textContent = s.in_flight;
    $('queued').textContent = Math.max(0, s.in_flight - s.busy);
    $('busy').textContent = s.busy + ' / ' + s.workers.length;
    $('errors-now').textContent = minute.reduce((a, p) => a + p.errors, 0);
    $('limited-now').textContent = minute.reduce((a, p) => a + p.limited, 0);
    $('dropped').textContent = s.dropped_lines ? '(' + s.dropped_lines + ' stderr lines dropped: the log fell behind)' : '';

    $('workers').tBodies[0].innerHTML = s.workers.map((w) => {
      const cls = w.state === 'ready' ? 'state-ready' : w.state === 'working' ? 'state-working' : 'state-other';
      return '<tr data-pid="' + w.pid + '"><td>' + w.pid + '</td><td class="' + cls + '">' + esc(w.state) + '</td><td class="execs">' + w.execs +
        '</td><td>' + mb(w.rss) + '</td><td>' + age(w.age) + '</td><td><button class="replace" data-pid="' + w.pid + '" title="replace this worker">Replace</button></td></tr>';
    }).join('');

    $('breakers-section').hidden = !s.breakers.length;
    $('breakers').innerHTML = s.breakers.map((b) => '<li class="' + esc(b.state) + '"><code>' + esc(b.route) + '</code> ' + esc(b.state) + '</li>').join('');

    $('errors').innerHTML = s.errors.length ? s.errors.map((e) =>
      '<div class="err"><b>' + e.status + '</b> ' + esc(e.method) + ' <code>' + esc(e.path) + '</code> · ' + e.ms.toFixed(1) + ' ms · ' +
      new Date(e.time).toLocaleTimeString() + ' · request id <code class="rid">' + esc(e.request_id || '(none)') + '</code>' +
      (e.lines.length ? '<pre>' + e.lines.map((l) => '[' + l.pid + '] ' + l.level + ': ' + esc(l.text)).join('\n') + '</pre>' : '') + '</div>'
    ).join('') : '<p class="none">none yet</p>';

    drawTraffic(s.series);
    drawMemory(s.workers, s.now);
  }

  function connect() {
    const es = new EventSource('api/events' + q);
    es.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn on'; };
    es.onmessage = (ev) => render(JSON.parse(ev.data));
    es.onerror = () => { $('conn').textContent = 'disconnected, retrying…'; $('conn').className = 'conn off'; };
  }
  connect();
})();
