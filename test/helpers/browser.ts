/**
 * A real headless Chromium for the tests of the HTML report: the only file importing
 * playwright-core. It ships no browser; Debian's `chromium` package (installed by .ci/run) is
 * launched from its system path (or $RUNBOOK_CHROMIUM).
 *
 *   const browser = chromiumPath();                 // undefined: skip the test, with skipReason()
 *   const opened = await openFile(browser!, file);  // console errors and outside requests recorded
 *   expect(await opened.page.locator('.row').count()).toBe(3);
 *   await opened.close();
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Where screenshots kept as test artefacts go (gitignored). */
export const ARTIFACTS_DIR = resolve(import.meta.dirname, '../../test-artifacts');

/**
 * The Chromium to launch, or undefined when none is installed. Under CI (CI=true) a missing
 * browser is an error, not a skip: CI must run the browser tests.
 */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env, candidates: readonly string[] = CANDIDATES): string | undefined {
  const places = [env.RUNBOOK_CHROMIUM, ...candidates].filter((p): p is string => Boolean(p));
  const found = places.find((p) => existsSync(p));
  if (!found && env.CI === 'true') throw new Error(`CI=true but no Chromium found (looked at ${places.join(', ')}): install Debian's chromium package (.ci/run does)`);
  return found;
}

export const skipReason = `no Chromium installed (looked at ${CANDIDATES.join(', ')}, $RUNBOOK_CHROMIUM): apt-get install chromium`;

export interface OpenedPage {
  page: Page;
  /** console.error messages and uncaught exceptions. */
  errors: string[];
  /** Every request for anything but the file itself and data: URLs; each was refused. */
  outsideRequests: string[];
  close(): Promise<void>;
}

/**
 * Opens a local file in a fresh headless Chromium. Every request that is not the file (or a
 * data: URL) is recorded and aborted, so a report that reaches for the network is caught.
 */
export async function openFile(executablePath: string, file: string, viewport = { width: 1400, height: 900 }): Promise<OpenedPage> {
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'], timeout: 60_000 });
  try {
    const context = await browser.newContext({ viewport, offline: true });
    const errors: string[] = [];
    const outside = new Set<string>();
    const url = pathToFileURL(file).href;
    const isOwn = (asked: string) => asked === url || asked.startsWith('data:');
    await context.route('**/*', (route) => {
      if (isOwn(route.request().url())) return route.continue();
      outside.add(route.request().url());
      return route.abort();
    });
    const page = await context.newPage();
    page.on('request', (request) => { if (!isOwn(request.url())) outside.add(request.url()); });
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(url, { waitUntil: 'load' });
    return { page, errors, get outsideRequests() { return [...outside]; }, close: () => browser.close() };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** Saves a screenshot (the full page unless told) under test-artifacts/ and returns its path. */
export async function keepScreenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: options.fullPage ?? true });
  return path;
}
