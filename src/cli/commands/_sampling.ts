/**
 * The sampling options shared by `generate` and `evaluate`: per-family temperature and top-p over EMOPIA's
 * table, and emotion guidance. Evaluating a model with the sampling it will generate with needs the same flags.
 * Defaults and their layering (library, then the model's generation.json, then these flags) are the library's:
 * cp/generation_defaults.ts.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { FAMILIES, type Family } from '../../music/vocab.ts';
import { GUIDANCE_OVER, contrastEmotions, isGuided, samplingTable, type GuidanceContrast, type GuidanceOver, type SamplingOverrides } from '../../cp/sampling.ts';
import { readGenerationDefaults } from '../../platform/run_folder.ts';
import { GENERATION_DEFAULTS, generationSettings, type PerQuadrant } from '../../cp/generation_defaults.ts';
import { parseFloatOption } from '../options.ts';
import { parseChoice } from './_music_io.ts';
import { recallActive, type RecallOptions } from '../../cp/recall.ts';

export interface SamplingCliOptions {
  temperature?: Array<[Family, number | null]>;
  topP?: Array<[Family, number | null]>;
  familyGuidance?: Array<[Family, number | null]>;
  tempoStep?: number | null;
  pitchGuidanceOver?: GuidanceOver;
  guidance?: number;
  contrast?: GuidanceContrast;
  recall?: RecallOptions;
}

/** `family=value` pairs, repeatable; `none` (top-p only) turns nucleus sampling off for that family. */
function familyValue(option: string, check: (v: number) => boolean, expect: string, allowNone: boolean) {
  return (value: string, previous: Array<[Family, number | null]> = []): Array<[Family, number | null]> => {
    const m = /^([a-z]+)=(.+)$/.exec(value.trim());
    const fam = m?.[1] as Family | undefined;
    if (!m || !fam || !(FAMILIES as readonly string[]).includes(fam)) {
      throw new UsageError(`--${option}`, `expected family=value with family one of ${FAMILIES.join(', ')}, got '${value}'`);
    }
    if (allowNone && m[2] === 'none') return [...previous, [fam, null]];
    const n = Number(m[2]);
    if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${option}`, `expected ${expect} for ${fam}, got '${m[2]}'`);
    return [...previous, [fam, n]];
  };
}

/** The work per word of guidance away from `contrast`, as a multiple of plain sampling's. */
const cost = (contrast: GuidanceContrast) => 1 + contrastEmotions(1, contrast).length;

/** `--tempo-step`: a number > 0, or `none` (any tempo). */
function tempoStep(value: string): number | null {
  if (value.trim() === 'none') return null;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new UsageError('--tempo-step', `expected a number > 0 or none, got '${value}'`);
  return n;
}

/** `--recall`: share,bonus (e.g. 0.3,2.5), or none. */
function recallOption(value: string): RecallOptions {
  if (value.trim() === 'none') return { share: 0, bonus: 0 };
  const m = /^([^,]+),([^,]+)$/.exec(value.trim());
  const share = Number(m?.[1]);
  const bonus = Number(m?.[2]);
  if (!m || !(share >= 0 && share <= 1) || !(Number.isFinite(bonus) && bonus >= 0)) {
    throw new UsageError('--recall', `expected share,bonus with share in [0, 1] and bonus >= 0 (e.g. 0.3,2.5), or none, got '${value}'`);
  }
  return { share, bonus };
}

/** Adds --temperature, --top-p, --tempo-step, --guidance, --family-guidance, --pitch-guidance-over, --contrast and --recall to a command. */
export function addSamplingOptions(cmd: Command): Command {
  const d = GENERATION_DEFAULTS;
  return cmd
    .option('--temperature <family=value>', "override the model's sampling temperature of a family (repeatable)", familyValue('temperature', (v) => v > 0, 'a number > 0', false))
    .option('--top-p <family=value>', "override the model's top-p of a family, or 'none' for plain weighted sampling (repeatable)", familyValue('top-p', (v) => v > 0 && v <= 1, 'a number in (0, 1]', true))
    .option('--tempo-step <x|none>', "the largest relative change of a tempo word from the piece's current tempo (0.15: within 1/1.15..1.15 times), or none for any tempo (default: the model's own, else none)", tempoStep)
    .option('--guidance <w>', `emotion guidance: 1 = plain conditional sampling, above 1 pushes each family's logits away from those of the --contrast, below 1 pulls them towards it (0.5: halfway), at ${cost('others')}x the work per word away from others, ${cost('neutral')}x away from neutral (default: the model's own, else ${d.guidance})`, parseFloatOption('guidance', 0))
    .option('--family-guidance <family=w>', "a family's own emotion guidance in place of --guidance, e.g. pitch=3 or barbeat=1 (repeatable; default: the model's own, else --guidance)", familyValue('family-guidance', (v) => v >= 0, 'a number >= 0', false))
    .option('--pitch-guidance-over <values|classes>', "what guidance on pitch pushes: each pitch (values), or the shares of the twelve pitch classes, the register within a class left to the model (classes) (default: the model's own, else values)", parseChoice('pitch-guidance-over', GUIDANCE_OVER))
    .option('--contrast <others|neutral>', `what guidance pushes away from: the other three quadrants (others) or the no-emotion word of pre-training (neutral) (default: the model's own, else ${d.contrast})`, parseChoice('contrast', ['others', 'neutral'] as const))
    .option('--recall <share,bonus|none>', "bar recall: each new bar recalls one 1, 2 or 4 bars back with probability share, and the values it implies get bonus nats on their logits, e.g. 0.3,2.5; none: off (default: the model's own, else none)", recallOption);
}

/** The overrides given on the command line. */
function samplingOverrides(opts: SamplingCliOptions): SamplingOverrides {
  const out: SamplingOverrides = {};
  for (const [f, t] of opts.temperature ?? []) out[f] = { ...out[f], temperature: t as number };
  for (const [f, p] of opts.topP ?? []) out[f] = { ...out[f], topP: p };
  for (const [f, w] of opts.familyGuidance ?? []) out[f] = { ...out[f], guidance: w as number };
  if (opts.tempoStep !== undefined) out.tempo = { ...out.tempo, maxStep: opts.tempoStep ?? undefined };
  if (opts.pitchGuidanceOver !== undefined) out.pitch = { ...out.pitch, guidanceOver: opts.pitchGuidanceOver };
  return out;
}

/** The sampling to use with the run folder `checkpoint`: its generation.json, then the command line on top. */
export function resolveSampling(opts: SamplingCliOptions, checkpoint: string): { sampling: SamplingOverrides; guidance: number; contrast: GuidanceContrast; recall: RecallOptions; perQuadrant: PerQuadrant } {
  return generationSettings(readGenerationDefaults(checkpoint), { sampling: samplingOverrides(opts), guidance: opts.guidance, contrast: opts.contrast, recall: opts.recall });
}

/** One line for reports: guidance and the families whose sampling differs from EMOPIA's table. */
export function describeSampling(sampling: SamplingOverrides, guidance: number, contrast: GuidanceContrast, recall?: RecallOptions, perQuadrant: PerQuadrant = {}): string {
  const table = samplingTable(sampling);
  const changed = FAMILIES.filter((f) => sampling[f]).map((f) => `${f} t=${table[f].temperature} top-p=${table[f].topP ?? 'none'}${table[f].maxStep === undefined ? '' : ` max-step=${table[f].maxStep}`}${table[f].guidance === undefined ? '' : ` guidance=${table[f].guidance}`}${table[f].guidanceOver === undefined ? '' : ` over ${table[f].guidanceOver}`}`);
  const bars = recallActive(recall) ? `; bar recall: share ${recall.share}, bonus ${recall.bonus}` : '';
  const fields = (o: object): string => Object.entries(o).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  const perQ = Object.entries(perQuadrant).map(([q, e]) => {
    const parts = Object.entries(e?.sampling ?? {}).map(([f, p]) => `${f} ${fields(p as object)}`);
    if (e?.recall) parts.push(`recall ${fields(e.recall)}`);
    return `${q} ${parts.join(', ')}`;
  });
  const quadrants = perQ.length ? `; per quadrant: ${perQ.join('; ')}` : '';
  return `guidance ${guidance}${isGuided(table, guidance) ? ` away from ${contrast}` : ''}; sampling: EMOPIA's table${changed.length ? ` except ${changed.join(', ')}` : ''}${bars}${quadrants}`;
}
