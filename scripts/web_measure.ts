/**
 * `node --import tsx scripts/web_measure.ts [--bars 16] [--runs 3]`: the web studio's figures in headless
 * Chromium (Debian's, through playwright-core): the bytes the page fetches before a note can be generated (the
 * model loaded in the worker, counted by the server), the time from opening the page to the first note drawn when
 * Generate is pressed at once, and the words per second of a piece (Q1, seed 0), next to the CLI's on the same
 * piece. Prints one JSON line per run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildWeb } from './build_web.ts';
import { serveStatic } from './web_serve.ts';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const bars = arg('bars', 16);
const runs = arg('runs', 3);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const work = mkdtempSync(join(tmpdir(), 'emopia-web-measure-'));
const dist = await buildWeb(join(work, 'web'));
let served = 0;
const files: string[] = [];
const { server, url } = await serveStatic(dist, 0, '127.0.0.1', (path, bytes) => {
  served += bytes;
  files.push(`${path} ${bytes}`);
});
try {
  for (let r = 0; r < runs; r++) {
    served = 0;
    files.length = 0;
    const context = await chromium.launchPersistentContext(join(work, `profile-${r}`), {
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    await page.getByTestId('bars').fill(String(bars));
    await page.getByTestId('generate').click();
    await page.waitForFunction(() => document.body.dataset.readyAt !== undefined, undefined, { timeout: 600_000 });
    const bytesBeforeReady = served;
    const filesBeforeReady = [...files];
    await page.getByTestId('status').filter({ hasText: /^done$/ }).waitFor({ timeout: 1_800_000 });
    const d = await page.evaluate(() => ({ ...document.body.dataset }));
    const progress = await page.getByTestId('progress').textContent();
    process.stdout.write(`${JSON.stringify({ run: r, bytesBeforeReady, files: filesBeforeReady, readyAtMs: Number(d.readyAt), firstNoteAtMs: Number(d.firstNoteAt), backend: d.backend, wordsPerSecond: Number(d.wordsPerSecond), progress })}\n`);
    await context.close();
  }
  for (let r = 0; r < runs; r++) {
    const out = join(work, `cli-${r}.mid`);
    const err = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'emopia_src.ts'), 'generate', '--emotion', 'Q1', '--max-bars', String(bars), '--seed', '0', '-o', out, '--no-progress'], { cwd: ROOT, encoding: 'utf8' }).stderr;
    process.stdout.write(`${JSON.stringify({ run: r, cli: err.trim().split('\n').pop() })}\n`);
  }
} finally {
  server.close();
  rmSync(work, { recursive: true, force: true });
}
