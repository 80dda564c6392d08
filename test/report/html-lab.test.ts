/**
 * `runbook show RUN --html FILE` on real lab runs, opened in a real headless Chromium (issue 19):
 * leap-second SIGKILLed mid-run and resumed (rolling, --serial 25%), and rebuild-rejoin-host with
 * its two manual gates confirmed from other shells. The DOM is checked against the run's own
 * journal; the page must log no error and ask for nothing outside the file; a screenshot of each
 * is kept under test-artifacts/. Without Chromium the browser checks are skipped (CI fails instead).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import { journalPath, readJournal, runDirOf } from '../../src/state/index.ts';
import { chromiumPath, keepScreenshot, openFile, skipReason } from '../helpers/browser.ts';
import { parseEvents, runIds, startLab, type RunbookLab } from '../runbooks/lab-helpers.ts';
import { knownHostsPath, reinstall } from '../runbooks/pool-view.ts';

const browser = chromiumPath();
if (!browser) console.warn(`html-lab.test.ts: browser checks skipped: ${skipReason}`);
const LINUX = ['xs-01', 'xs-02', 'xs-03', 'ubuntu-01'];
// The lab pool's root password, given as a secretString() param: it must appear nowhere in the report.
const POOL_PASSWORD = 'xenroot';

let lab: RunbookLab;
beforeAll(async () => { lab = await startLab({ rebootDownMs: 300 }); });
afterAll(async () => { await lab?.stop(); });

/** Step results per host, as the journal has them: each is one bar. */
async function journalOf(runId: string): Promise<RunEvent[]> {
  return (await readJournal(journalPath(runDirOf(lab.stateDir, runId)))).events;
}
function resultsPerHost(events: readonly RunEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) if (e.kind === 'step-result') counts[e.host] = (counts[e.host] ?? 0) + 1;
  return counts;
}

async function writeReport(runId: string, name: string): Promise<{ file: string; html: string; stdout: string }> {
  const file = join(lab.stateDir, `${name}.html`);
  const shown = await lab.cli(['show', runId.slice(0, 22), '--html', file]);
  expect(shown.code, shown.stdout + shown.stderr).toBe(0);
  return { file, html: readFileSync(file, 'utf8'), stdout: shown.stdout };
}

/** Bars per host in the page, the interrupted ones apart (a kill leaves a started step without a result). */
async function barsInPage(page: import('playwright-core').Page): Promise<Record<string, { results: number; interrupted: number }>> {
  return page.$$eval('#rows .row[data-host]', (rows) => Object.fromEntries(rows.map((row) => [row.getAttribute('data-host'), {
    results: row.querySelectorAll('.bar:not([data-status="interrupted"])').length,
    interrupted: row.querySelectorAll('.bar[data-status="interrupted"]').length,
  }])));
}

describe('runbook show --html on lab runs', () => {
  it('leap-second, rolling and SIGKILLed, then resumed: a row per host, a bar per step, the resume and the batches drawn', async () => {
    await Promise.all(LINUX.map((h) => lab.fault(h, 'leap-second')));
    const seen = await lab.applyAndKill('leap-second', { afterResults: 9 }, ['--serial', '25%']);
    expect(seen.length).toBeGreaterThanOrEqual(9);
    const resumed = await lab.resumeUntilDone();
    expect(resumed[resumed.length - 1].code).toBe(0);
    const runId = runIds(lab.stateDir).at(-1)!;
    const events = await journalOf(runId);
    const { file, html, stdout } = await writeReport(runId, 'leap-second');
    expect(stdout).toMatch(/^wrote .*leap-second\.html \(\d+ hosts, \d+ KiB\)/);
    expect(html).toContain('leap-second');
    expect(html).toMatch(/1 resume:/);
    if (!browser) return;

    const opened = await openFile(browser, file);
    try {
      const { page } = opened;
      const record = JSON.parse(readFileSync(join(runDirOf(lab.stateDir, runId), 'run.json'), 'utf8'));
      expect(await page.$$eval('#rows .row[data-host]', (rows) => rows.map((r) => r.getAttribute('data-host')))).toEqual(record.hosts);
      const bars = await barsInPage(page);
      const expected = resultsPerHost(events);
      for (const host of record.hosts) expect(bars[host]?.results, host).toBe(expected[host] ?? 0);
      // The kill and the resume: one stretch where the run was stopped, drawn on every row.
      expect(await page.locator('.axis .axis-piece.pause').count()).toBe(1);
      expect(await page.locator('.axis').textContent()).toMatch(/resume 1/);
      // --serial 25%: the hosts ran one after another, so rows carry their batch.
      expect(await page.locator('#rows .row .batch').allTextContents()).toContain('batch 2');
      // Details: collapsed by default; a search opens the command that matches.
      expect(await page.locator('#host-list details[open]').count()).toBe(0);
      await page.fill('#filter', 'date -s');
      await page.locator('#host-list details[open] mark').first().waitFor();
      expect(await page.locator('#host-list details[open] mark').first().textContent()).toBe('date -s');
      await page.fill('#filter', '');
      await expect.poll(() => page.locator('#host-list details[open]').count()).toBe(0);
      expect(opened.errors).toEqual([]);
      expect(opened.outsideRequests).toEqual([]);
      console.log(`screenshot: ${await keepScreenshot(page, 'html-report-leap-second')}`);
    } finally {
      await opened.close();
    }
  }, 240_000);

  it('rebuild-rejoin-host with its two manual gates: the waits, who confirmed what with evidence; the secret param nowhere', async () => {
    const env = { RUNBOOK_PARAM_poolPassword: POOL_PASSWORD };
    const args = ['-i', lab.inventory, '--limit', 'xs-03', '--param', `knownHosts=${knownHostsPath(lab)}`, '--json'];
    await lab.fault('xs-03', 'power-off');
    const first = await lab.cli(['apply', 'rebuild-rejoin-host', ...args], { env, timeoutMs: 150_000 });
    expect(first.code, first.stdout + first.stderr).toBe(3);
    const start = parseEvents(first.stdout).find((e) => e.kind === 'run-start');
    const runId = start?.kind === 'run-start' ? start.runId : '';
    const confirm = (step: string, extra: string[], operator: string) =>
      lab.cli(['confirm', runId, '--host', 'xs-03', '--step', step, ...extra], { env: { RUNBOOK_OPERATOR: operator } });
    expect((await confirm('forget-approved', ['--note', 'change 4711 approved'], 'ana')).code).toBe(0);
    const second = await lab.cli(['resume', runId, '--json'], { env, timeoutMs: 150_000 });
    expect(second.code, second.stdout + second.stderr).toBe(3);
    const { fingerprint } = await reinstall(lab, 'xs-03');
    const evidence = ['--evidence', 'version=6.1.0', '--evidence', 'ip=10.10.0.13', '--evidence', `fingerprint=${fingerprint}`];
    expect((await confirm('reinstalled', [...evidence, '--note', 'reinstalled from the ISO <b>at</b> the console'], 'bob')).code).toBe(0);
    const last = await lab.cli(['resume', runId, '--json'], { env, timeoutMs: 150_000 });
    expect(last.code, last.stdout + last.stderr).toBe(0);

    const { file, html } = await writeReport(runId, 'rebuild-rejoin-host');
    expect(html).not.toContain(POOL_PASSWORD);
    expect(html).toContain('poolPassword=********');
    // The note's markup is text, escaped, never markup.
    expect(html).not.toContain('<b>at</b>');
    if (!browser) return;

    const opened = await openFile(browser, file);
    try {
      const { page } = opened;
      const bars = await barsInPage(page);
      expect(bars['xs-03'].results).toBe(resultsPerHost(await journalOf(runId))['xs-03']);
      const row = page.locator('#rows .row[data-host="xs-03"]');
      expect(await row.locator('.wait').count()).toBe(2);
      expect(await row.locator('.confirm-mark').count()).toBe(2);
      expect(await row.locator('.bar[data-status="waiting"]').count()).toBe(2);
      expect(await page.locator('.axis .axis-piece.pause').count()).toBe(2);
      const confirmations = await page.locator('#confirmations tbody tr').allTextContents();
      expect(confirmations).toHaveLength(2);
      expect(confirmations[0]).toMatch(/xs-03.*forget-approved.*ana.*change 4711 approved/);
      expect(confirmations[1]).toMatch(/xs-03.*reinstalled.*bob.*reinstalled from the ISO <b>at<\/b> the console.*10\.10\.0\.13/);
      expect(confirmations[1]).toContain(fingerprint);
      expect(await page.locator('#run-header').textContent()).toMatch(/waiting for a human/);
      expect(await page.locator('body').innerText()).not.toContain(POOL_PASSWORD);
      expect(opened.errors).toEqual([]);
      expect(opened.outsideRequests).toEqual([]);
      console.log(`screenshot: ${await keepScreenshot(page, 'html-report-rebuild-rejoin-host')}`);
      // On paper: no controls, every step's commands open (the page does this on beforeprint).
      await page.emulateMedia({ media: 'print' });
      await page.evaluate(() => {
        const page = globalThis as unknown as { dispatchEvent(event: unknown): void; Event: new (type: string) => unknown };
        page.dispatchEvent(new page.Event('beforeprint'));
      });
      expect(await page.locator('.controls').isVisible()).toBe(false);
      const details = await page.locator('#host-list details').count();
      expect(details).toBeGreaterThan(0);
      expect(await page.locator('#host-list details[open]').count()).toBe(details);
      console.log(`print view: ${await keepScreenshot(page, 'html-report-rebuild-rejoin-host-print')}`);
    } finally {
      await opened.close();
    }
  }, 300_000);
});
