/**
 * The inline CSS and script of the HTML report (html.ts). Kept apart so html.ts reads as the
 * report's structure. The script is plain ES2020 for any current browser: it reads the JSON island,
 * draws one page of hosts at a time (timeline rows and host details), filters by text and status,
 * and before printing draws every matching host with its details open. It writes journal data
 * only through textContent and attributes, never as HTML.
 *
 * Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies), and no status
 * is told by colour alone: each bar carries its symbol, a fill pattern and a text tooltip.
 */

export const REPORT_CSS = `
:root { --ok:#009E73; --changed:#E69F00; --failed:#D55E00; --skipped:#9a9a9a; --unreachable:#CC79A7;
  --waiting:#56B4E9; --would:#F0E442; --may:#f5ee9a; --interrupted:#6b6b6b; --ink:#1d1d1f; --dim:#5f6368; --line:#d9dce1; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0 auto; padding: 16px 24px 48px; max-width: 1600px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0; }
code, pre { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.dim { color: var(--dim); } .small { font-size: 12px; } .note { background: #fff4d6; padding: 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--dim); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ul.warnings li { color: #8a4b00; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; border: 1px solid currentColor; font-size: 12px; white-space: nowrap; }
.badge.s-ok { color: #00664a; } .badge.s-changed { color: #8a5a00; } .badge.s-failed { color: #a33f00; }
.badge.s-unreachable { color: #8e3d72; } .badge.s-waiting { color: #1b6c99; } .badge.s-skipped, .badge.s-not-started { color: var(--dim); }
.badge.s-interrupted, .badge.s-unfinished { color: #444; } .badge.s-stale { color: #1b6c99; } .badge.s-would-change, .badge.s-may-change { color: #6b6400; }
ul.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; list-style: none; padding: 0; margin: 12px 0; font-size: 12.5px; }
.swatch { display: inline-block; position: static !important; width: 22px; height: 14px; vertical-align: middle; text-align: center; line-height: 14px; font-size: 11px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: 3px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--dim); font-size: 12.5px; }
.controls { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; margin-bottom: 8px; }
.controls input { width: 22em; padding: 3px 6px; }
.gantt { border: 1px solid var(--line); }
.row { display: flex; min-height: 24px; border-top: 1px solid #eef0f2; }
.row.axis { border-top: 0; background: #f6f7f9; min-height: 30px; font-size: 11.5px; color: var(--dim); }
.row.batch-start { border-top: 2px solid #7a7f87; }
.label { flex: 0 0 260px; padding: 2px 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; border-right: 1px solid var(--line); display: flex; gap: 6px; align-items: center; }
.label a { color: inherit; font-weight: 600; text-decoration: none; } .label a:hover { text-decoration: underline; }
.label .batch { font-size: 11px; color: var(--dim); margin-left: auto; }
.track { position: relative; flex: 1 1 auto; }
.axis-piece { position: absolute; top: 0; bottom: 0; border-left: 1px solid #b9bdc4; padding-left: 3px; overflow: hidden; white-space: nowrap; }
.axis-piece.pause span { display: block; padding-top: 11px; }
.axis-piece.pause, .pause-bg { background: repeating-linear-gradient(90deg, #eceef1 0 3px, #f8f9fa 3px 6px); }
.pause-bg { position: absolute; top: 0; bottom: 0; }
.bar { position: absolute; top: 4px; height: 16px; border-radius: 2px; color: #fff; font-size: 11px; line-height: 16px; text-align: center; overflow: hidden; cursor: pointer; border: 1px solid rgba(0,0,0,.35); }
.bar:focus { outline: 2px solid #000; outline-offset: 1px; }
.bar.s-ok, .swatch.s-ok { background: var(--ok); } .bar.s-changed, .swatch.s-changed { background: var(--changed); color: #000; }
.bar.s-failed, .swatch.s-failed { background: repeating-linear-gradient(45deg, var(--failed) 0 4px, #a84800 4px 7px); }
.bar.s-skipped, .swatch.s-skipped { background: #fff; color: #555; border: 1px dashed #777; }
.bar.s-unreachable, .swatch.s-unreachable { background: repeating-linear-gradient(-45deg, var(--unreachable) 0 4px, #9c4f83 4px 7px); }
.bar.s-waiting, .swatch.s-waiting { background: var(--waiting); color: #000; }
.bar.s-would-change, .swatch.s-would-change { background: var(--would); color: #000; }
.bar.s-may-change, .swatch.s-may-change { background: var(--may); color: #000; }
.bar.s-stale, .swatch.s-stale { background: repeating-linear-gradient(135deg, var(--waiting) 0 4px, #fff 4px 7px); color: #000; }
.bar.s-interrupted, .swatch.s-interrupted { background: repeating-linear-gradient(90deg, var(--interrupted) 0 3px, #999 3px 5px); }
.wait { position: absolute; top: 7px; height: 10px; border: 1px solid #1b6c99; background: repeating-linear-gradient(45deg, #cfe9f8 0 4px, #fff 4px 8px); }
.swatch.wait { position: static; }
.confirm-mark { position: absolute; top: 2px; width: 12px; margin-left: -6px; text-align: center; color: #0b4f75; font-size: 14px; line-height: 20px; }
.swatch.pause-mark { background: repeating-linear-gradient(90deg, #d9dce1 0 3px, #f8f9fa 3px 6px); border: 1px solid var(--line); }
section.host { border: 1px solid var(--line); border-radius: 4px; margin: 12px 0; padding: 8px 12px; break-inside: avoid-page; }
section.host header { display: flex; gap: 10px; align-items: baseline; margin-bottom: 6px; }
section.host:target { outline: 2px solid #0072B2; }
tr.step-row.flash { background: #fff6c7; }
table.steps td:nth-child(2) { min-width: 15em; } table.confirmations td:nth-child(3) { white-space: nowrap; } table.confirmations code { overflow-wrap: anywhere; }
td.when { white-space: nowrap; color: var(--dim); font-size: 12px; }
details { margin: 2px 0; } summary { cursor: pointer; color: #0b4f75; font-size: 12.5px; }
.cmd { margin: 4px 0 8px; border-left: 3px solid var(--line); padding-left: 8px; }
.cmd.failed { border-left-color: var(--failed); }
.cmd .exit { font-size: 12px; color: var(--dim); } .cmd.failed .exit { color: #a33f00; font-weight: 600; }
pre { background: #f6f7f9; margin: 2px 0; padding: 6px 8px; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 28em; overflow: auto; }
pre.stderr { background: #fff3ec; }
mark { background: #ffe066; color: inherit; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  .controls, .pager, noscript { display: none !important; }
  .gantt, .bar, .wait, .badge, .swatch, .pause-bg, .axis-piece { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  .row { break-inside: avoid; }
  pre { max-height: none; overflow: visible; }
  section.host { break-inside: auto; }
  a { color: inherit; text-decoration: none; }
}
`;

export const REPORT_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var PAGE = 50;
  var SYMBOL = { ok: '\\u2713', changed: '\\u0394', failed: '\\u2717', skipped: '\\u2013', unreachable: '\\u2298', waiting: '\\u2016',
    'would-change': '~', 'may-change': '?', interrupted: '\\u21AF', stale: '\\u2260' };
  var state = { text: '', status: '', page: 0, all: false };
  var haystacks = [];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function duration(ms) {
    if (ms < 1000) return ms + 'ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + 's';
    var m = Math.floor(ms / 60000);
    if (m < 60) return m + 'm' + String(Math.round((ms % 60000) / 1000)).padStart(2, '0') + 's';
    return Math.floor(m / 60) + 'h' + String(m % 60).padStart(2, '0') + 'm';
  }
  function clock(ms) { return new Date(ms).toISOString().slice(11, 19) + 'Z'; }
  function badge(status) {
    var b = el('span', 'badge s-' + status);
    var s = el('span', null, SYMBOL[status] || '\\u2022'); s.setAttribute('aria-hidden', 'true');
    b.appendChild(s); b.appendChild(document.createTextNode(' ' + (status === 'waiting' ? 'waiting for a human' : status)));
    return b;
  }
  function hostId(i) { return 'host-' + i; }

  function haystack(i) {
    if (haystacks[i] === undefined) {
      var h = data.hosts[i];
      var parts = [h.name, h.state];
      h.bars.forEach(function (b) {
        parts.push(b.step, b.title, b.status, b.reason, b.error || '');
        b.commands.forEach(function (c) { parts.push(c.command, c.stdout, c.stderr, c.exit); });
        b.logs.forEach(function (l) { parts.push(l); });
      });
      h.confirmations.forEach(function (c) { parts.push(c.by, c.note || '', JSON.stringify(c.evidence || '')); });
      haystacks[i] = parts.join('\\n').toLowerCase();
    }
    return haystacks[i];
  }
  function matching() {
    var text = state.text.toLowerCase();
    var out = [];
    data.hosts.forEach(function (h, i) {
      if (state.status && h.state !== state.status && !h.bars.some(function (b) { return b.status === state.status; })) return;
      if (text && haystack(i).indexOf(text) < 0) return;
      out.push(i);
    });
    return out;
  }

  function highlight(node, text) {
    if (!text || !node.textContent) return node;
    var source = node.textContent, lower = source.toLowerCase(), needle = text.toLowerCase();
    if (lower.indexOf(needle) < 0) return node;
    node.textContent = '';
    var at = 0, found;
    while ((found = lower.indexOf(needle, at)) >= 0) {
      node.appendChild(document.createTextNode(source.slice(at, found)));
      node.appendChild(el('mark', null, source.slice(found, found + needle.length)));
      at = found + needle.length;
    }
    node.appendChild(document.createTextNode(source.slice(at)));
    return node;
  }

  function barTitle(h, b) {
    return h.name + ' \\u00b7 ' + b.step + (b.attempt > 1 ? ' (attempt ' + b.attempt + ')' : '') + ': ' + b.status.toUpperCase() +
      ' \\u2014 ' + b.reason + ' (' + duration(b.durationMs) + ', ' + clock(b.start) + ')';
  }
  function row(i, previousBatch) {
    var h = data.hosts[i];
    var r = el('div', 'row');
    r.setAttribute('data-host', h.name);
    if (h.batch && previousBatch !== null && h.batch !== previousBatch) r.className += ' batch-start';
    var label = el('div', 'label');
    var link = el('a', null, h.name); link.href = '#' + hostId(i);
    label.appendChild(link); label.appendChild(badge(h.state));
    if (data.batches > 1 && h.batch) label.appendChild(el('span', 'batch', 'batch ' + h.batch));
    r.appendChild(label);
    var track = el('div', 'track');
    data.axis.forEach(function (a) {
      if (a.kind !== 'pause') return;
      var p = el('div', 'pause-bg'); p.style.left = a.x + '%'; p.style.width = a.w + '%'; p.title = a.label;
      track.appendChild(p);
    });
    h.waits.forEach(function (w) {
      var d = el('div', 'wait'); d.style.left = w.x + '%'; d.style.width = w.w + '%';
      d.title = h.name + ' \\u00b7 ' + w.step + ': waiting for a human ' + duration(w.end - w.start) + (w.open ? ' (still waiting)' : '');
      d.setAttribute('role', 'img'); d.setAttribute('aria-label', d.title);
      track.appendChild(d);
    });
    h.bars.forEach(function (b, n) {
      var bar = el('div', 'bar s-' + b.status, SYMBOL[b.status] || '\\u2022');
      bar.style.left = b.x + '%'; bar.style.width = b.w + '%';
      bar.title = barTitle(h, b);
      bar.setAttribute('role', 'link'); bar.setAttribute('tabindex', '0'); bar.setAttribute('aria-label', bar.title);
      bar.setAttribute('data-step', b.step); bar.setAttribute('data-status', b.status);
      var go = function () { reveal(i, n); };
      bar.addEventListener('click', go);
      bar.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
      track.appendChild(bar);
    });
    h.confirmations.forEach(function (c) {
      var m = el('div', 'confirm-mark', '\\u25C6'); m.style.left = c.x + '%';
      m.title = c.step + ' confirmed by ' + c.by + ' at ' + c.time + (c.note ? ': ' + c.note : '');
      m.setAttribute('role', 'img'); m.setAttribute('aria-label', m.title);
      track.appendChild(m);
    });
    r.appendChild(track);
    return r;
  }

  function commandBlock(c) {
    var box = el('div', 'cmd' + (c.ok ? '' : ' failed'));
    var line = el('div');
    line.appendChild(highlight(el('code', null, '$ ' + c.command), state.text));
    line.appendChild(el('span', 'exit', '  \\u2192 ' + c.exit + ' (' + duration(c.durationMs) + ')' + (c.on ? ' on ' + c.on : '')));
    box.appendChild(line);
    if (c.stdout) box.appendChild(highlight(el('pre', 'stdout', c.stdout), state.text));
    if (c.stderr) box.appendChild(highlight(el('pre', 'stderr', c.stderr), state.text));
    return box;
  }
  function stepRows(h, i, b, n) {
    var tr = el('tr', 'step-row'); tr.id = hostId(i) + '-step-' + n;
    tr.appendChild(el('td', 'when', clock(b.start)));
    var name = el('td'); name.appendChild(el('strong', null, b.step));
    if (b.attempt > 1) name.appendChild(el('span', 'dim', ' attempt ' + b.attempt));
    name.appendChild(el('div', 'dim small', b.title));
    tr.appendChild(name);
    var st = el('td'); st.appendChild(badge(b.status)); tr.appendChild(st);
    var why = el('td'); why.appendChild(highlight(el('div', null, b.reason), state.text));
    if (b.error) why.appendChild(highlight(el('pre', 'stderr', b.error), state.text));
    if (b.outputs) why.appendChild(el('div', 'dim small', 'handed on: ' + JSON.stringify(b.outputs)));
    if (b.commands.length || b.logs.length) {
      var d = el('details');
      d.appendChild(el('summary', null, b.commands.length + ' command' + (b.commands.length === 1 ? '' : 's') + (b.logs.length ? ', ' + b.logs.length + ' log line(s)' : '')));
      b.commands.forEach(function (c) { d.appendChild(commandBlock(c)); });
      b.logs.forEach(function (l) { d.appendChild(highlight(el('pre', 'log', l), state.text)); });
      if (state.all || (state.text && d.textContent.toLowerCase().indexOf(state.text.toLowerCase()) >= 0)) d.open = true;
      why.appendChild(d);
    }
    tr.appendChild(why);
    tr.appendChild(el('td', 'when', duration(b.durationMs)));
    return tr;
  }
  function hostSection(i) {
    var h = data.hosts[i];
    var s = el('section', 'host'); s.id = hostId(i); s.setAttribute('data-host', h.name);
    var head = el('header'); head.appendChild(el('h3', null, h.name)); head.appendChild(badge(h.state));
    if (data.batches > 1 && h.batch) head.appendChild(el('span', 'dim', 'batch ' + h.batch));
    s.appendChild(head);
    if (h.bars.length === 0) s.appendChild(el('p', 'dim', 'no step ran on this host'));
    else {
      var table = el('table', 'steps'); var thead = el('thead'); var tr = el('tr');
      ['started', 'step', 'result', 'why, commands and output', 'took'].forEach(function (t) { tr.appendChild(el('th', null, t)); });
      thead.appendChild(tr); table.appendChild(thead);
      var body = el('tbody');
      h.bars.forEach(function (b, n) { body.appendChild(stepRows(h, i, b, n)); });
      table.appendChild(body); s.appendChild(table);
    }
    h.waits.forEach(function (w) { s.appendChild(el('p', 'small', '\\u2016 waited at ' + w.step + ' for ' + duration(w.end - w.start) + (w.open ? ' (still waiting)' : ''))); });
    h.confirmations.forEach(function (c) {
      s.appendChild(el('p', 'small', '\\u25C6 ' + c.step + ' confirmed by ' + c.by + ' at ' + c.time + (c.note ? ' \\u2014 ' + c.note : '') + (c.evidence && Object.keys(c.evidence).length ? ' \\u2014 evidence ' + JSON.stringify(c.evidence) : '')));
    });
    if (h.other.length) {
      var d = el('details'); d.appendChild(el('summary', null, (h.other.length + h.otherLeftOut) + ' event(s) of kinds this report does not draw')); if (state.all) d.open = true;
      h.other.forEach(function (o) { d.appendChild(el('pre', null, o)); });
      if (h.otherLeftOut) d.appendChild(el('p', 'dim small', '\u2026 and ' + h.otherLeftOut + ' more (runbook show --json lists them all)'));
      s.appendChild(d);
    }
    return s;
  }

  function render() {
    var hosts = matching();
    var pages = Math.max(1, Math.ceil(hosts.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var shown = state.all ? hosts : hosts.slice(state.page * PAGE, state.page * PAGE + PAGE);
    var rows = document.getElementById('rows'), list = document.getElementById('host-list');
    rows.textContent = ''; list.textContent = '';
    var previous = null;
    shown.forEach(function (i) { rows.appendChild(row(i, previous)); previous = data.hosts[i].batch; list.appendChild(hostSection(i)); });
    if (shown.length === 0) rows.appendChild(el('p', 'dim', 'no host matches'));
    document.getElementById('page-label').textContent = 'page ' + (state.page + 1) + ' of ' + pages + ' \\u00b7 hosts ' +
      (shown.length ? (state.all ? 1 : state.page * PAGE + 1) + '\\u2013' + (state.all ? shown.length : state.page * PAGE + shown.length) : 0) + ' of ' + hosts.length;
    document.getElementById('prev').disabled = state.page === 0;
    document.getElementById('next').disabled = state.page >= pages - 1;
    document.getElementById('match-count').textContent = hosts.length === data.hosts.length ? data.hosts.length + ' hosts' : hosts.length + ' of ' + data.hosts.length + ' hosts match';
  }
  function reveal(i, n) {
    var target = document.getElementById(hostId(i) + '-step-' + n);
    if (!target) return;
    var d = target.querySelector('details'); if (d) d.open = true;
    target.classList.add('flash');
    target.scrollIntoView({ block: 'center' });
    setTimeout(function () { target.classList.remove('flash'); }, 1500);
  }

  var typing;
  document.getElementById('filter').addEventListener('input', function (e) {
    clearTimeout(typing);
    typing = setTimeout(function () { state.text = e.target.value.trim(); state.page = 0; render(); }, 150);
  });
  document.getElementById('status-filter').addEventListener('change', function (e) { state.status = e.target.value; state.page = 0; render(); });
  document.getElementById('prev').addEventListener('click', function () { state.page--; render(); });
  document.getElementById('next').addEventListener('click', function () { state.page++; render(); });
  // Paper has no pager: print every matching host, details open.
  window.addEventListener('beforeprint', function () { state.all = true; render(); });
  window.addEventListener('afterprint', function () { state.all = false; render(); });
  render();
})();
`;
