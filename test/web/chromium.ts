/**
 * The browser tests' set-up: Debian's Chromium driven by playwright-core (which downloads no browser), the page
 * built from the current sources into a temporary folder and served on 127.0.0.1.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build_web.ts';
import { serveStatic } from '../../scripts/web_serve.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Why the browser tests cannot run here, or false. */
export const SKIP: string | false = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`;

/** As the machine notes say: without the background-networking flags Chromium keeps calling out of a closed network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

export interface Studio {
  url: string;
  context: BrowserContext;
  page: Page;
  /** A folder for screenshots and downloads. */
  out: string;
  close(): Promise<void>;
}

/** Builds the page, serves it, and opens it in a fresh headless Chromium profile. */
export async function openStudio(): Promise<Studio> {
  const { chromium } = await import('playwright-core');
  const work = mkdtempSync(join(tmpdir(), 'emopia-web-'));
  const dist = await buildWeb(join(work, 'web'));
  const { server, url } = await serveStatic(dist, 0);
  const context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, acceptDownloads: true, viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const out = join(work, 'out');
  return {
    url, context, page, out,
    async close() {
      await context.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!process.env.KEEP_WEB_OUTPUT) rmSync(work, { recursive: true, force: true });
    },
  };
}
