/**
 * The web studio in headless Chromium (Debian's, through playwright-core), against the page built from the
 * current sources: a generated piece's MIDI equals the CLI's bytes, a bad file gets one line, a real clip is
 * classified as `emopia classify` does, and the masks tab shows `emopia explain masks --json`'s matrices.
 * Skipped with a message when Chromium is missing. KEEP_WEB_OUTPUT=1 keeps the screenshots (the path is printed).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, REPO_ROOT } from '../helpers/cli.ts';
import { SKIP, openStudio, type Studio } from './chromium.ts';

const CLIP = join(REPO_ROOT, 'test', 'fixtures', 'midi', 'emopia_Q3_NTI9ode6bRk_0_bars2-4.mid');
const MINUTES = 60_000;

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `emopia ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('web studio in Chromium', { skip: SKIP, timeout: 15 * MINUTES }, () => {
  let studio: Studio;
  let scratch: string;
  before(async () => {
    studio = await openStudio();
    mkdirSync(studio.out, { recursive: true });
    scratch = mkdtempSync(join(tmpdir(), 'emopia-web-cli-'));
    await studio.page.goto(studio.url);
  });
  after(async () => {
    await studio?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });
  const shot = async (name: string, t: { diagnostic(m: string): void }) => {
    const path = join(studio.out, `${name}.png`);
    await studio.page.screenshot({ path, fullPage: true });
    if (process.env.KEEP_WEB_OUTPUT) t.diagnostic(`screenshot: ${path}`);
  };

  test('after a stopped piece, emotion Q3, 8 bars, seed 5: the downloaded MIDI is the bytes of `emopia generate --emotion Q3 --max-bars 8 --seed 5`', async (t) => {
    const cliFile = join(scratch, 'cli.mid');
    const cliDone = cli(['generate', '--emotion', 'Q3', '--max-bars', '8', '--seed', '5', '-o', cliFile, '--no-progress']);
    const { page } = studio;
    // First a long piece, stopped while it is written: the page starts a fresh worker for the next one.
    await page.getByTestId('bars').fill('64');
    await page.getByTestId('generate').click();
    await page.getByTestId('progress').filter({ hasText: /^[1-9]\d* words/ }).waitFor({ timeout: 10 * MINUTES });
    await page.getByTestId('stop').click();
    assert.equal(await page.getByTestId('status').textContent(), 'stopped');
    assert.equal(await page.getByTestId('download').getAttribute('aria-disabled'), 'true');
    await page.getByTestId('emotion-Q3').click();
    await page.getByTestId('bars').fill('8');
    await page.locator('details summary').click();
    await page.getByTestId('seed').fill('5');
    await page.getByTestId('generate').click();
    await page.getByTestId('status').filter({ hasText: /^done$/ }).waitFor({ timeout: 10 * MINUTES });
    const notes = Number(await page.getByTestId('piano-roll').getAttribute('data-notes'));
    assert.ok(notes > 0, `the piano roll shows ${notes} notes`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
    const pagePath = join(scratch, 'page.mid');
    await download.saveAs(pagePath);
    await cliDone;
    const want = readFileSync(cliFile);
    const got = readFileSync(pagePath);
    assert.ok(want.length > 100, `the CLI wrote ${want.length} bytes`);
    assert.ok(got.equals(want), `page: ${got.length} bytes, CLI: ${want.length} bytes`);
    t.diagnostic(`${await page.getByTestId('progress').textContent()} (backend ${await page.locator('body').getAttribute('data-backend')})`);
    await shot('generate', t);
  });

  test('playback: Play loads the piano samples, the cursor moves over the roll, Pause stops it', async (t) => {
    const { page } = studio;
    await page.getByTestId('generate-tab').click();
    const play = page.getByTestId('play');
    const roll = page.getByTestId('piano-roll');
    await play.click();
    await play.filter({ hasText: /^Pause$/ }).waitFor({ timeout: 2 * MINUTES });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="piano-roll"]')?.getAttribute('data-cursor')) > 240, undefined, { timeout: 2 * MINUTES });
    await shot('playing', t);
    await play.click();
    await play.filter({ hasText: /^Play$/ }).waitFor();
    const at = await roll.getAttribute('data-cursor');
    await page.waitForTimeout(300);
    assert.equal(await roll.getAttribute('data-cursor'), at, 'the cursor stays where playback paused');
  });

  test('a file that is not MIDI gets a one-line message and no result', async (t) => {
    const { page } = studio;
    await page.getByTestId('read-tab').click();
    await page.getByTestId('file-input').setInputFiles({ name: 'notes.mid', mimeType: 'audio/midi', buffer: Buffer.from('these are not MIDI bytes\n') });
    const error = page.getByTestId('read-error');
    await error.waitFor({ state: 'visible' });
    const text = (await error.textContent()) ?? '';
    assert.match(text, /^notes\.mid: .+/);
    assert.doesNotMatch(text, /\n/);
    assert.equal(await page.getByTestId('classify-result').textContent(), '');
    await shot('read-bad-file', t);
  });

  test('a real clip: the quadrant and the four probabilities of `emopia classify --json`, and its compound words', async (t) => {
    const { page } = studio;
    await page.getByTestId('read-tab').click();
    await page.getByTestId('file-input').setInputFiles(CLIP);
    const result = page.getByTestId('classify-result');
    await result.locator('.q').waitFor();
    assert.equal(await page.getByTestId('read-error').isHidden(), true);
    const [want] = JSON.parse(await cli(['classify', CLIP, '--json', '--no-progress'])) as Array<{ quadrant: string; probabilities: Record<string, number> }>;
    assert.ok(want);
    assert.equal(await result.getAttribute('data-quadrant'), want.quadrant);
    const probs = JSON.parse((await result.getAttribute('data-probabilities')) ?? '[]') as number[];
    assert.deepEqual(probs, Object.values(want.probabilities));
    assert.match((await result.textContent()) ?? '', new RegExp(`${want.quadrant} (happy|tense|sad|calm)`));
    // The words table: one row per word of `emopia encode`-style tokenization, eight families as columns.
    const header = await page.locator('#words th').allTextContents();
    assert.deepEqual(header, ['#', 'tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion']);
    assert.ok((await page.locator('#words tr').count()) > 10);
    await shot('read-clip', t);
  });

  for (const [src, tgt] of [['2,4', '4,3'], ['3,1,5', '2,6,1']] as const) {
    test(`masks tab, source lengths ${src}, target lengths ${tgt}: the matrices of \`emopia explain masks --json\``, async (t) => {
      const { page } = studio;
      await page.getByTestId('masks-tab').click();
      await page.getByTestId('src-lengths').fill(src);
      await page.getByTestId('tgt-lengths').fill(tgt);
      await page.locator(`#masks[data-state="ready"][data-lengths="${src}/${tgt}"]`).waitFor();
      const want = JSON.parse(await cli(['explain', 'masks', '--src-lengths', src, '--tgt-lengths', tgt, '--json'])) as {
        padding_mask: number[][][]; cross_mask: number[][][]; masked_scores: number[][][]; positional_encoding: number[][];
      };
      const cells = async (id: string) => page.getByTestId(id).locator('td').allTextContents();
      assert.deepEqual(await cells('padding-adjacency'), want.padding_mask.flat(2).map(String));
      assert.deepEqual(await cells('cross-mask'), want.cross_mask.flat(2).map(String));
      const fmt = (v: number) => (v <= -1e8 ? '-1e9' : v.toFixed(4));
      assert.deepEqual(await cells('masked-scores'), want.masked_scores.flat(2).map(fmt));
      assert.deepEqual(await cells('positional-encoding'), want.positional_encoding.flat().map((v) => v.toFixed(3)));
      await shot(`masks-${src.replaceAll(',', '-')}`, t);
    });
  }
});
