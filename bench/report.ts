/** Turns the bench's samples into results.md (tables, ratios, targets) and a hand-written SVG plot. */

export interface Sample {
  kex: string;
  tool: string;
  n: number;
  phase: string;
  rep: number;
  wall: number;
  cpu: number;
  user: number;
  sys: number;
  maxRssProcessMB: number;
  peakTreeRssMB: number;
  code: number;
  leftovers: number;
  load: number;
  problem?: string;
}

export interface Meta {
  date: string;
  /** Round-trip time added in front of every host by the delaying proxy (0: loopback as is). */
  rttMs?: number;
  minutes: number;
  runs: number;
  cpus: number;
  node: string;
  loadEnd: number[];
  ansible: string;
  openssh: string;
}

const CURVE = 'curve25519-sha256';
const TOOL_ORDER = ['runbook', 'ansible', 'floor'];
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const uniq = <T,>(xs: T[]) => [...new Set(xs)];

interface Stat { wall: number; min: number; max: number; cpu: number; rss: number; rssProcess: number; ok: number; total: number }

function stat(samples: Sample[]): Stat | undefined {
  const good = samples.filter((s) => !s.problem);
  if (good.length === 0) return undefined;
  const walls = good.map((s) => s.wall);
  return {
    wall: median(walls), min: Math.min(...walls), max: Math.max(...walls), cpu: median(good.map((s) => s.cpu)),
    rss: Math.max(...good.map((s) => s.peakTreeRssMB)), rssProcess: Math.max(...good.map((s) => s.maxRssProcessMB)), ok: good.length, total: samples.length,
  };
}

/** runbook, its variants, ansible, floor: in that order. */
const toolsOf = (samples: Sample[]) => uniq(samples.map((s) => s.tool)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const rank = (tool: string) => (tool.startsWith('runbook') ? 0 : TOOL_ORDER.indexOf(tool));
const pick = (all: Sample[], kex: string, phase: string, n: number, tool: string) => all.filter((s) => s.kex === kex && s.phase === phase && s.n === n && s.tool === tool);

export function renderMarkdown(all: Sample[], meta: Meta, resume: string): { text: string; ratios: string } {
  const timed = all.filter((s) => s.rep > 0 || !s.phase.startsWith('memory'));
  const loads = timed.map((s) => s.load);
  const lines: string[] = [
    '# Fan-out benchmark results', '',
    `${meta.rttMs ? `**Round trip ${meta.rttMs} ms** (a proxy in front of every host holds each chunk ${meta.rttMs / 2} ms each way, for every tool). ` : ''}${meta.date}, ${meta.cpus} CPUs, ${meta.node}, ${meta.ansible}, ${meta.openssh}; ${meta.runs} run(s) per cell, tools alternated within each repetition; ${f(meta.minutes, 1)} min in all.`,
    `Load average (1 min) while timing: ${f(Math.min(...loads), 1)}–${f(Math.max(...loads), 1)} (median ${f(median(loads), 1)}) on ${meta.cpus} CPUs — the machine was shared, so absolute figures are noisy; ratios within a repetition are the signal.`, '',
    'Each host is its own OpenSSH sshd on 127.0.0.1 (MaxSessions default). Wall = seconds until the tool exits (median, min–max).',
    'CPU = controller user+sys seconds, children and ssh ControlPersist masters included (bench/measure.py is their subreaper).',
    'RSS = peak of the whole controller process tree, sampled every 100 ms (for runbook: one node process).', '',
  ];
  const ratioLines: string[] = [];
  for (const kex of uniq(all.map((s) => s.kex))) {
    const ks = timed.filter((s) => s.kex === kex);
    const note = kex === CURVE ? '' : ' — ssh2 (runbook\'s transport) has no sntrup761, so runbook is not in this table; its curve25519 figures are the ones to set beside it';
    lines.push(`## Key exchange ${kex}${note}`, '', '| workload | hosts | tool | wall s | min–max | CPU s | peak RSS MB (tree / largest process) | valid runs |', '|---|---:|---|---:|---|---:|---|---:|');
    for (const phase of uniq(ks.map((s) => s.phase))) {
      for (const n of uniq(ks.map((s) => s.n)).sort((a, b) => a - b)) {
        for (const tool of toolsOf(ks)) {
          const samples = pick(ks, kex, phase, n, tool);
          if (samples.length === 0) continue;
          const st = stat(samples);
          lines.push(st
            ? `| ${phase} | ${n} | ${tool} | **${f(st.wall)}** | ${f(st.min)}–${f(st.max)} | ${f(st.cpu)} | ${f(st.rss, 0)} / ${f(st.rssProcess, 0)} | ${st.ok}/${st.total} |`
            : `| ${phase} | ${n} | ${tool} | failed | | | | 0/${samples.length} (${samples[0].problem}) |`);
        }
      }
    }
    lines.push('');
    if (kex !== CURVE) continue;
    lines.push('### Ratios (medians)', '', '| workload | hosts | runbook / Ansible wall | Ansible / runbook wall | runbook / floor wall | runbook / Ansible CPU |', '|---|---:|---:|---:|---:|---:|');
    for (const phase of uniq(ks.map((s) => s.phase))) {
      for (const n of uniq(ks.map((s) => s.n)).sort((a, b) => a - b)) {
        const [r, a, fl] = TOOL_ORDER.map((t) => stat(pick(ks, kex, phase, n, t)));
        if (!r) continue;
        const row = `| ${phase} | ${n} | ${a ? f(r.wall / a.wall) : '–'} | ${a ? f(a.wall / r.wall, 1) : '–'}× | ${fl ? f(r.wall / fl.wall) : '–'} | ${a ? f(r.cpu / a.cpu) : '–'} |`;
        lines.push(row);
        ratioLines.push(`${phase.padEnd(24)} n=${String(n).padStart(3)}  runbook/ansible ${a ? f(r.wall / a.wall) : '–'}  runbook/floor ${fl ? f(r.wall / fl.wall) : '–'}  cpu runbook/ansible ${a ? f(r.cpu / a.cpu) : '–'}`);
      }
    }
    lines.push('');
  }
  lines.push(...targets(timed, all), '');
  if (resume) lines.push('## Resume of 1,000 hosts × 20 steps (bench/resume-1000.ts)', '', '```', resume.trim(), '```', '');
  return { text: lines.join('\n'), ratios: ratioLines.join('\n') };
}

function targets(timed: Sample[], all: Sample[]): string[] {
  const out = ['## Targets (issue 9), at the largest host count measured, curve25519', '', '| target | measured | met |', '|---|---|---|'];
  const curve = timed.filter((s) => s.kex === CURVE);
  if (curve.length === 0) return [];
  const n = Math.max(...curve.map((s) => s.n));
  const get = (phase: string, tool: string) => stat(pick(curve, CURVE, phase, n, tool));
  const row = (what: string, value: number | undefined, text: string, ok: boolean | undefined) => out.push(`| ${what} | ${value === undefined ? '–' : text} | ${ok === undefined ? '–' : ok ? 'yes' : '**no**'} |`);
  const leapR = get('leap4 first (changes)', 'runbook'); const leapF = get('leap4 first (changes)', 'floor');
  const leap = leapR && leapF ? leapR.wall / leapF.wall : undefined;
  row(`4 steps × ${n} hosts within 1.2× of the floor`, leap, `${f(leap!)}× (${f(leapR?.wall ?? NaN)} s vs ${f(leapF?.wall ?? NaN)} s)`, leap === undefined ? undefined : leap <= 1.2);
  const s20R = get('steps20 (changes)', 'runbook'); const s20A = get('steps20 (changes)', 'ansible');
  const s20 = s20R && s20A ? s20A.wall / s20R.wall : undefined;
  row(`20 steps × ${n} hosts ≥ 10× faster than Ansible`, s20, `${f(s20!, 1)}× (${f(s20R?.wall ?? NaN)} s vs ${f(s20A?.wall ?? NaN)} s)`, s20 === undefined ? undefined : s20 >= 10);
  for (const phase of ['leap4 first (changes)', 'steps20 (changes)']) {
    const r = get(phase, 'runbook'); const a = get(phase, 'ansible');
    const c = r && a ? r.cpu / a.cpu : undefined;
    row(`controller CPU ≤ ⅓ of Ansible's (${phase}, ${n} hosts)`, c, `${f(c!)} (${f(r?.cpu ?? NaN)} s vs ${f(a?.cpu ?? NaN)} s)`, c === undefined ? undefined : c <= 1 / 3);
  }
  const mem = all.find((s) => s.phase.startsWith('memory'));
  row(`≤ 200 MB RSS at ${mem?.n ?? 500} hosts (real sshd hosts)`, mem?.maxRssProcessMB, `${f(mem?.maxRssProcessMB ?? NaN, 0)} MB${mem?.problem ? ` (${mem.problem})` : ''}`, mem ? mem.maxRssProcessMB <= 200 && !mem.problem : undefined);
  return out;
}

/** Wall time vs hosts, one line per tool, one panel per workload (curve25519). */
export function renderSvg(all: Sample[], kex: string): string {
  const samples = all.filter((s) => s.kex === kex && !s.phase.startsWith('memory'));
  const phases = uniq(samples.map((s) => s.phase));
  const colors: Record<string, string> = { runbook: '#1f77b4', ansible: '#d62728', floor: '#2ca02c' };
  const extra = ['#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
  toolsOf(samples).filter((t) => !colors[t]).forEach((t, i) => { colors[t] = extra[i % extra.length]; });
  const W = 320, H = 260, pad = { l: 46, r: 12, t: 30, b: 40 };
  const parts: string[] = [];
  phases.forEach((phase, p) => {
    const ps = samples.filter((s) => s.phase === phase);
    const ns = uniq(ps.map((s) => s.n)).sort((a, b) => a - b);
    const series = toolsOf(ps).map((tool) => ({ tool, pts: ns.map((n) => ({ n, st: stat(pick(ps, kex, phase, n, tool)) })).filter((x) => x.st) }));
    const ymax = Math.max(1, ...series.flatMap((s) => s.pts.map((x) => x.st!.max)));
    const xmax = Math.max(...ns, 1);
    const x = (n: number) => pad.l + (n / xmax) * (W - pad.l - pad.r);
    const y = (v: number) => H - pad.b - (v / ymax) * (H - pad.t - pad.b);
    const g: string[] = [`<g transform="translate(${p * W},0)">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(phase)}</text>`];
    g.push(`<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#000"/>`, `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#000"/>`);
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4;
      g.push(`<line x1="${pad.l}" y1="${y(v)}" x2="${W - pad.r}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${pad.l - 4}" y="${y(v) + 4}" text-anchor="end">${f(v, 1)}</text>`);
    }
    for (const n of ns) g.push(`<text x="${x(n)}" y="${H - pad.b + 14}" text-anchor="middle">${n}</text>`);
    g.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle">hosts</text>`, `<text x="12" y="${H / 2}" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">wall s (median)</text>`);
    for (const s of series) {
      if (s.pts.length === 0) continue;
      g.push(`<polyline fill="none" stroke="${colors[s.tool]}" stroke-width="2" points="${s.pts.map((q) => `${x(q.n)},${y(q.st!.wall)}`).join(' ')}"/>`);
      for (const q of s.pts) g.push(`<line x1="${x(q.n)}" y1="${y(q.st!.min)}" x2="${x(q.n)}" y2="${y(q.st!.max)}" stroke="${colors[s.tool]}"/>`, `<circle cx="${x(q.n)}" cy="${y(q.st!.wall)}" r="3" fill="${colors[s.tool]}"/>`);
    }
    g.push('</g>');
    parts.push(g.join('\n'));
  });
  const legend = toolsOf(samples).map((t, i) => `<rect x="${10 + i * 110}" y="${H + 4}" width="12" height="12" fill="${colors[t]}"/><text x="${26 + i * 110}" y="${H + 14}">${t}</text>`).join('');
  const width = Math.max(1, phases.length) * W;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 24}" font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n${legend}\n<text x="${width - 10}" y="${H + 14}" text-anchor="end">${esc(kex)}; bars: min–max</text>\n</svg>\n`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
