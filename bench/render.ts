/**
 * Re-renders results.md and the SVG from one or more samples.json files (e.g. a long sitting cut
 * short plus a second one for the largest N), or from the log lines of a run that was stopped:
 *
 *   node --import tsx bench/render.ts OUT_DIR samples.json [more.json | run.log ...]
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderMarkdown, renderSvg, type Meta, type Sample } from './report.ts';

const [outDir, ...inputs] = process.argv.slice(2);
const LINE = /^\[(\d\d:\d\d:\d\d)\] (curve|sntrup) n=\s*(\d+) (\S+)\s+(.+?)\s+([\d.]+) s wall\s+([\d.]+) s cpu\s+([\d.]+) MB tree\s+load ([\d.]+)(?:\s+PROBLEM: (.*))?$/;

/** Samples from the progress lines run.ts prints (no per-process RSS there: only the tree's). */
function fromLog(text: string): Sample[] {
  const reps = new Map<string, number>();
  return text.split('\n').flatMap((line) => {
    const m = LINE.exec(line);
    if (!m) return [];
    const [, , kex, n, tool, phase, wall, cpu, rss, load, problem] = m;
    const key = `${kex}/${n}/${tool}/${phase}`;
    const rep = reps.get(key) ?? 0;
    reps.set(key, rep + 1);
    return [{
      kex: kex === 'curve' ? 'curve25519-sha256' : 'sntrup761x25519-sha512@openssh.com', tool, n: Number(n), phase, rep,
      wall: Number(wall), cpu: Number(cpu), user: NaN, sys: NaN, peakTreeRssMB: Number(rss), maxRssProcessMB: tool.startsWith('runbook') ? Number(rss) : NaN,
      code: problem ? 1 : 0, leftovers: 0, load: Number(load), ...(problem ? { problem } : {}),
    }];
  });
}

const samples: Sample[] = [];
let meta: Meta | undefined;
let resume = '';
for (const input of inputs) {
  const text = await readFile(input, 'utf8');
  if (input.endsWith('.json')) {
    const data = JSON.parse(text) as { meta: Meta; samples: Sample[]; resume?: string };
    samples.push(...data.samples);
    meta = data.meta;
    resume = data.resume ?? resume;
  } else {
    samples.push(...fromLog(text));
  }
}
if (!meta) throw new Error('give at least one samples.json (it carries the machine and versions)');
const md = renderMarkdown(samples, { ...meta, runs: Math.max(...samples.map((s) => s.rep + 1)) }, resume);
await writeFile(path.join(outDir, 'results.md'), md.text);
await writeFile(path.join(outDir, 'wall-vs-hosts.svg'), renderSvg(samples, 'curve25519-sha256'));
console.log(md.ratios);
