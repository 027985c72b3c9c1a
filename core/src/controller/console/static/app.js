// Trellis console: renders the snapshots the controller pushes over Server-Sent Events
// (/console/api/events). No framework, no build step; every value goes in through textContent.
'use strict';
(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  let historyLoadedAt = 0;
  const COLORS = { up: '#2e9e44', degraded: '#e0a100', down: '#d23b3b', unknown: '#8a8f98' };

  function el(tag, attrs, text) {
    const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function row(cells, attrs) {
    const tr = el('tr', attrs);
    for (const c of cells) tr.appendChild(c instanceof Node ? c : el('td', {}, c));
    return tr;
  }
  function cell(text, cls, attrs) {
    return el('td', Object.assign({ class: cls }, attrs || {}), text);
  }
  // A cell whose parts stay whole but may go on separate lines when the table is narrow.
  function split(parts, cls) {
    const td = el('td', { class: 'split ' + (cls || '') });
    parts.forEach((part, i) => {
      if (i > 0) td.appendChild(document.createTextNode(' '));
      td.appendChild(el('span', {}, part));
    });
    return td;
  }
  function badge(text, cls) {
    const td = el('td');
    td.appendChild(el('span', { class: 'state ' + cls }, text));
    return td;
  }
  function replaceRows(tbody, rows) {
    tbody.replaceChildren(...rows);
  }
  const ms = (us) => (us === null || us === undefined ? '–' : (us / 1000).toFixed(us < 10000 ? 2 : 1) + ' ms');
  // null: no probe figures yet (the peer never answered a probe), which is not 0 %.
  const pct = (f) => (f === null || f === undefined ? '–' : (f * 100).toFixed(f > 0 && f < 0.1 ? 1 : 0) + ' %');
  function bytes(n) {
    if (n === null || n === undefined) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  function ago(at, now) {
    if (!at) return '–';
    const s = Math.max(0, Math.round((now - at) / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
  }
  const time = (at) => (at ? new Date(at).toLocaleTimeString() : '–');

  function limits(snap) {
    const t = (snap.alerts && snap.alerts.thresholds) || {};
    return { lossPct: t.lossMaxPercent || 2, rttMs: t.rttP95DefaultMs || 150 };
  }
  // Colour class of one path: red when down or over a limit, amber at half a limit, green otherwise.
  function grade(p, lim) {
    if (!p) return 'unknown';
    if (p.state === 'down') return 'down';
    const rtt = p.rttUs === null ? null : p.rttUs / 1000;
    const loss = p.loss === null ? null : p.loss * 100;
    if ((loss !== null && loss > lim.lossPct) || (rtt !== null && rtt > lim.rttMs)) return 'down';
    if ((loss !== null && loss > lim.lossPct / 2) || (rtt !== null && rtt > lim.rttMs / 2) || p.state === 'degraded') return 'degraded';
    return rtt === null || loss === null ? 'unknown' : 'up';
  }
  const worse = (a, b) => (['down', 'degraded', 'unknown', 'up'].indexOf(a) <= ['down', 'degraded', 'unknown', 'up'].indexOf(b) ? a : b);

  // Where each node sits: evenly round a circle, then stretched so the ring fills the drawing (an
  // odd count leaves no empty band), leaving room for each circle and the address under it.
  function layout(nodes, w, h) {
    const mx = 56, top = 28, bottom = 48;
    const start = nodes.length === 2 ? Math.PI : -Math.PI / 2;
    const unit = nodes.map((n, i) => {
      const a = start + (2 * Math.PI * i) / Math.max(1, nodes.length);
      return [Math.cos(a), Math.sin(a)];
    });
    const span = (k) => {
      const vs = unit.map((u) => u[k]);
      return [Math.min(...vs), Math.max(...vs)];
    };
    const [x0, x1] = span(0), [y0, y1] = span(1);
    // A flat ring (one or two nodes) sits on the middle line.
    const fit = (v, lo, hi, from, to) => (hi - lo < 1e-9 ? (from + to) / 2 : from + ((v - lo) / (hi - lo)) * (to - from));
    const pos = new Map();
    nodes.forEach((n, i) => pos.set(n.name, { x: fit(unit[i][0], x0, x1, mx, w - mx), y: fit(unit[i][1], y0, y1, top, h - bottom) }));
    return pos;
  }
  // pathLabel is what an edge says about the way its tunnels go: nothing when direct (or not known
  // yet), "via X" when both directions use relay X, one line per direction when they differ.
  function pathLabel(paths) {
    const relayed = paths.filter((p) => p.path && p.path !== 'direct');
    if (relayed.length === 0) return null;
    const vias = new Set(paths.map((p) => p.path || 'direct'));
    if (vias.size === 1) return 'via ' + relayed[0].path;
    return relayed.map((p) => `${p.src}→${p.dst} via ${p.path}`).join(', ');
  }

  let drawn = null; // the last snapshot drawn, redrawn when the card changes size
  function renderTopology(snap, lim) {
    drawn = { snap, lim };
    const svg = $('topology');
    const box = $('topology-box');
    const w = Math.max(160, Math.round(box.clientWidth)), h = Math.max(160, Math.round(box.clientHeight));
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const nodes = snap.nodes;
    const pos = layout(nodes, w, h);
    const byPair = new Map();
    for (const p of snap.paths) {
      const key = [p.src, p.dst].sort().join('\u0000');
      const e = byPair.get(key) || { a: [p.src, p.dst].sort()[0], b: [p.src, p.dst].sort()[1], paths: [] };
      e.paths.push(p);
      byPair.set(key, e);
    }
    const edges = [], labels = [];
    for (const e of byPair.values()) {
      const pa = pos.get(e.a), pb = pos.get(e.b);
      if (!pa || !pb) continue;
      const g = e.paths.map((p) => grade(p, lim)).reduce(worse);
      const title = e.paths.map((p) => `${p.src} → ${p.dst}${p.path ? ' (' + p.path + ')' : ''}: RTT ${ms(p.rttUs)}, loss ${pct(p.loss)}, ${p.state}`).join('\n');
      const line = el('svg:line', { x1: pa.x, y1: pa.y, x2: pb.x, y2: pb.y, class: 'edge', 'data-a': e.a, 'data-b': e.b, 'data-state': g, stroke: COLORS[g], 'stroke-width': 4, 'stroke-linecap': 'round' });
      if (g === 'down') line.setAttribute('stroke-dasharray', '8 6');
      line.appendChild(el('svg:title', {}, title));
      edges.push(line);
      const label = pathLabel(e.paths);
      if (label) {
        labels.push(el('svg:text', { x: (pa.x + pb.x) / 2, y: (pa.y + pb.y) / 2 - 6, class: 'path-label', 'data-a': e.a, 'data-b': e.b }, label));
      }
    }
    const parts = edges;
    for (const n of nodes) {
      const p = pos.get(n.name);
      const state = !n.online ? 'down' : n.quarantined ? 'degraded' : 'up';
      const g = el('svg:g', { class: 'node', 'data-node': n.name, 'data-online': n.online });
      g.appendChild(el('svg:circle', { cx: p.x, cy: p.y, r: 20, fill: COLORS[state], stroke: '#1d2330', 'stroke-width': 1.5 }));
      g.appendChild(el('svg:text', { x: p.x, y: p.y + 4, fill: '#fff' }, n.name));
      g.appendChild(el('svg:text', { x: p.x, y: p.y + 36 }, n.ipv4));
      g.appendChild(el('svg:title', {}, `${n.name} ${n.online ? 'online' : 'offline'}${n.quarantined ? ', quarantined' : ''}`));
      parts.push(g);
    }
    // Labels last, so no line or node covers them.
    svg.replaceChildren(...parts, ...labels);
  }

  // The way a tunnel's datagrams go, from its newest probe: direct, or through a relay node.
  function pathText(path) {
    if (!path) return '–';
    return path === 'direct' ? 'direct' : 'via ' + path;
  }

  // The path cell: the way the datagrams go and, for the tunnel to the source's exit node, a mark.
  function pathCell(p) {
    const td = el('td', {}, pathText(p.path));
    if (p.exitNode) td.appendChild(el('span', { class: 'exit-mark', title: `${p.src}'s other traffic leaves through ${p.dst}` }, 'exit node'));
    return td;
  }

  function renderTunnels(snap, lim) {
    const rows = snap.paths.map((p) => {
      const g = grade(p, lim);
      const handshake = p.handshakeAgeS === null ? 'never' : Math.round(p.handshakeAgeS) + ' s';
      return row(
        [
          cell(p.src), cell(p.dst), cell(p.endpoint || '–', 'wrap'), pathCell(p), cell(handshake, 'num'),
          split([bytes(p.rxBytes) + ' /', bytes(p.txBytes)], 'num'),
          cell(ms(p.rttUs), 'num rtt c-' + g), cell(pct(p.loss), 'num loss c-' + g), cell(ms(p.jitterUs), 'num jitter'),
          badge(p.state, p.state),
        ],
        { 'data-src': p.src, 'data-dst': p.dst, 'data-state': p.state, 'data-path': p.path || '', 'data-exit': p.exitNode ? 'true' : undefined },
      );
    });
    if (rows.length === 0) rows.push(row([el('td', { colspan: 10 }, 'no telemetry yet')]));
    replaceRows($('tunnels').tBodies[0], rows);
  }

  // One line per posture reason; long ones wrap inside the cell.
  function reasons(list) {
    const td = el('td', { class: 'reasons' });
    if (list.length === 0) td.textContent = '–';
    for (const r of list) td.appendChild(el('div', {}, r));
    return td;
  }

  // The exit cell: the exit node a node uses (in use, fallback, or none and why) and whether it offers one.
  function exitCell(n) {
    const td = el('td', { class: 'exit' });
    const e = n.exit, o = n.exitOffer;
    if (!e && !o) td.textContent = '–';
    if (e) {
      const line = el('div', { class: 'exit-use' });
      const text = e.state === 'in-use' ? 'via ' + e.inUse : e.state === 'fallback' ? `via ${e.inUse} (fallback for ${e.preferred})` : `none in use (wanted ${e.preferred})`;
      line.appendChild(el('span', { class: 'state ' + (e.state === 'in-use' ? 'up' : e.state === 'fallback' ? 'degraded' : 'down'), title: e.problem || '' }, text));
      if (e.state === 'in-use' && e.fallback) line.appendChild(el('span', { class: 'hint' }, ' fallback ' + e.fallback));
      if (e.problem) line.appendChild(el('div', { class: 'hint wrap' }, e.problem));
      td.appendChild(line);
    }
    if (o) {
      const line = el('div', { class: 'exit-offer' });
      line.appendChild(el('span', { class: 'state ' + (o.status === 'approved' ? 'up' : o.status === 'pending' ? 'pending' : 'down') }, 'offers exit: ' + o.status));
      if (o.usedBy.length > 0) line.appendChild(el('span', { class: 'hint' }, ' used by ' + o.usedBy.join(', ')));
      td.appendChild(line);
    }
    return td;
  }

  function renderNodes(snap) {
    const rows = snap.nodes.map((n) => {
      const posture = n.posture === null ? 'unknown' : n.quarantined ? 'quarantined' : 'ok';
      return row(
        [
          cell(n.name), cell(n.ipv4), badge(n.online ? 'online' : 'offline ' + ago(n.lastSeen, snap.at), n.online ? 'up' : 'offline'), exitCell(n),
          badge(!n.approved ? 'awaiting approval' : posture, !n.approved ? 'pending' : posture), reasons(n.posture ? n.posture.reasons : []),
        ],
        {
          'data-node': n.name, 'data-online': n.online, 'data-posture': posture,
          'data-exit-state': n.exit ? n.exit.state : undefined, 'data-exit-node': n.exit ? n.exit.inUse || '' : undefined,
          'data-exit-offer': n.exitOffer ? n.exitOffer.status : undefined,
        },
      );
    });
    replaceRows($('nodes').tBodies[0], rows);
  }

  const labels = (l) => Object.entries(l || {}).map(([k, v]) => `${k}=${v}`).join(' ');
  // Alert values as people read them: at most two decimals; a tunnel that never had a handshake is "never".
  function alertValue(a) {
    if (a.uid === 'trellis-tunnel-down' && a.value >= 1e9) return 'never';
    return typeof a.value === 'number' ? String(Math.round(a.value * 100) / 100) : String(a.value);
  }
  function renderAlerts(snap) {
    const panel = $('alerts-panel');
    if (!snap.alerts) { panel.hidden = true; return; }
    panel.hidden = false;
    const active = (snap.alerts.active || []).map((a) =>
      row([badge(a.state, a.state), cell(a.title, 'wrap'), cell(labels(a.labels), 'details'), cell(alertValue(a), 'num value'), cell(String(a.threshold), 'num'), cell(time(a.startsAt || a.pendingSince))], { 'data-uid': a.uid, 'data-state': a.state }),
    );
    if (active.length === 0) active.push(row([el('td', { colspan: 6 }, 'no active alerts')]));
    replaceRows($('alerts').tBodies[0], active);
    const recent = (snap.alerts.recent || []).slice(0, 20).map((a) => row([cell(a.title, 'wrap'), cell(labels(a.labels), 'details'), cell(time(a.startsAt)), cell(time(a.endsAt))]));
    replaceRows($('alerts-recent').tBodies[0], recent);
  }

  function renderAudit(snap) {
    const rows = [...snap.audit].reverse().map((e) =>
      row([cell(time(e.at)), cell(e.action), cell(e.actor), cell(e.target || '–'), cell(JSON.stringify(e.details), 'details')]),
    );
    replaceRows($('audit').tBodies[0], rows);
  }

  function chart(series) {
    const w = 320, h = 140, pad = 28;
    const box = el('div', { class: 'chart', 'data-path': `${series.src}->${series.dst}:${series.path}` });
    box.appendChild(el('div', {}, `${series.src} → ${series.dst} (${series.path})`));
    const svg = el('svg:svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}` });
    const pts = series.points;
    const t0 = Math.min(...pts.map((p) => p.minute)), t1 = Math.max(...pts.map((p) => p.minute), t0 + 60);
    const vmax = Math.max(1, ...pts.map((p) => p.p95Ms ?? 0)) * 1.1;
    const x = (t) => pad + ((t - t0) / (t1 - t0)) * (w - pad - 6);
    const y = (v) => h - 16 - (v / vmax) * (h - 26);
    svg.appendChild(el('svg:line', { x1: pad, y1: h - 16, x2: w - 6, y2: h - 16, stroke: '#999' }));
    svg.appendChild(el('svg:text', { x: 2, y: 12 }, vmax.toFixed(1) + ' ms'));
    svg.appendChild(el('svg:text', { x: pad, y: h - 3 }, new Date(t0 * 1000).toLocaleTimeString()));
    // A minute with no answered probe (p95Ms null) breaks the line and is marked in red at the top.
    let run = [];
    const flush = () => {
      if (run.length > 0) svg.appendChild(el('svg:polyline', { points: run.join(' '), fill: 'none', stroke: '#3a6fd8', 'stroke-width': 2 }));
      run = [];
    };
    for (const p of pts) {
      if (p.p95Ms === null) {
        flush();
        svg.appendChild(el('svg:rect', { x: x(p.minute) - 2, y: 4, width: 4, height: 6, fill: '#c0392b' }));
      } else run.push(`${x(p.minute).toFixed(1)},${y(p.p95Ms).toFixed(1)}`);
    }
    flush();
    box.appendChild(svg);
    return box;
  }
  async function loadHistory() {
    historyLoadedAt = Date.now();
    try {
      const res = await fetch('/console/api/history', { credentials: 'same-origin' });
      const body = await res.json();
      const div = $('history');
      if (!res.ok) { div.replaceChildren(el('p', { class: 'error' }, body.error ? body.error.message : 'history unavailable')); return; }
      div.replaceChildren(...(body.series.length ? body.series.map(chart) : [el('p', {}, 'no rollup rows in the last hour yet')]));
    } catch (err) {
      $('history').replaceChildren(el('p', { class: 'error' }, 'history unavailable: ' + err.message));
    }
  }

  function render(snap) {
    const lim = limits(snap);
    renderTopology(snap, lim);
    renderTunnels(snap, lim);
    renderNodes(snap);
    renderAlerts(snap);
    renderAudit(snap);
    $('history-panel').hidden = !snap.history;
    if (snap.history && Date.now() - historyLoadedAt > 60000) void loadHistory();
    $('updated').textContent = 'updated ' + time(snap.at);
    document.body.setAttribute('data-snapshot-at', String(snap.at));
  }

  function connect() {
    const live = $('live');
    const es = new EventSource('/console/api/events');
    es.addEventListener('open', () => { live.textContent = 'live'; live.classList.remove('off'); });
    es.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.classList.add('off'); });
    es.addEventListener('snapshot', (ev) => render(JSON.parse(ev.data)));
    // The session ended: show the login form again.
    es.addEventListener('expired', () => { es.close(); window.location.assign('/console'); });
  }
  document.addEventListener('DOMContentLoaded', () => {
    // The drawing is sized to its card: draw again whenever the card changes size.
    new ResizeObserver(() => { if (drawn) renderTopology(drawn.snap, drawn.lim); }).observe($('topology-box'));
    connect();
  });
})();
