/**
 * The `wasm` engine of step-by-step inference (engine.ts): the whole step of a batch of sequences in our own
 * WebAssembly SIMD kernel (wasm/step/step.c), one call per word for the embedding rows through the type logits
 * and one for the other heads once the types are sampled. The input checks, the embedding lookups and sampling
 * stay in TypeScript (engine.ts, sampling.ts); only logits come out of wasm.
 *
 * The weights of `StepWeights` are copied once into the instance's memory, every matrix packed as
 * [out-block of 16][in][16] (pack.ts), as float32 or, on request, when every weight is exactly a half (the shipped
 * model), as half-precision bits (half the bytes to read per word, same logits to the bit); the activations, the linear-attention state (S, z per sequence and head)
 * or the softmax key/value cache live there too. The memory is laid out here with a bump allocator from the
 * module's heap base, and described to the kernel by the `Model` and `Layer` structs of step.c (MODEL and LAYER
 * below give their fields' slots, and the sizes are checked against the build).
 *
 * Packing is the slow part of opening a stepper (copying ~14 MB of weights out of tfjs and into the instance:
 * 10-25 ms, a tenth of a 300-word piece), so a disposed stepper's instance is kept, per model and weight form,
 * with its packed weights, and the next stepper of that model reuses it (its state and activations laid out
 * afresh, zeroed). It is reused only while every parameter of the model still holds the data it was packed from
 * (the same tfjs data ids: `assign`, as training and loadStateDict do, gives a parameter new ones); one idle
 * instance per model and form, dropped with the model (a WeakMap), and none whose memory grew past the weights
 * by more than KEEP_SLACK (a long softmax cache or a large batch).
 */
import { InputError } from '../../errors.ts';
import type { LayerNorm } from '../../core/module.ts';
import type { Affine, EngineCore, StepWeights } from '../engine.ts';
import { NON_TYPE_FAMILIES } from '../model.ts';
import { FAMILIES, FAMILY_INDEX, N_FAMILIES, type Family } from '../../music/vocab.ts';
import { instantiateStep, type StepKernel } from './loader.ts';
import { pad16, padVector } from './pack.ts';

/** Slots (4 bytes each) of step.c's `Model`. */
const MODEL = {
  B: 0, d: 1, h: 2, dff: 3, E: 4, eType: 5, nType: 6, nRest: 7, nLayers: 8, softmax: 9,
  inW: 10, inB: 11, normG: 12, normB: 13, normEps: 14, typeW: 15, typeB: 16, catW: 17, catB: 18, restW: 19, restB: 20,
  emb: 21, pe: 22, x: 23, qkv: 24, att: 25, ffh: 26, cat: 27, y: 28, typeLogits: 29, restLogits: 30, scores: 31, layers: 32,
  half: 33, xs: 34, pre: 35, tables: 36, rows: 37,
  size: 38,
} as const;

/** Slots of step.c's `Layer`. */
const LAYER = {
  qkvW: 0, qkvB: 1, outW: 2, outB: 3, ff1W: 4, ff1B: 5, ff2W: 6, ff2B: 7, n1G: 8, n1B: 9, n2G: 10, n2B: 11,
  n1Eps: 12, n2Eps: 13, sa: 14, sb: 15, cap: 16,
  size: 17,
} as const;

/** The sizes of step.c's structs as this file lays them out (the engine checks them against the build). */
export const MODEL_BYTES = MODEL.size * 4;
export const LAYER_BYTES = LAYER.size * 4;

/** Rows per sequence of a new softmax key/value cache; it doubles as needed, up to the model's maxLen. */
const FIRST_CAP = 64;

const WASM_PAGE = 65536;

/** Memory beyond the packed weights up to which a disposed stepper's instance is kept for reuse. */
const KEEP_SLACK = 64 * 2 ** 20;

/** An instance whose memory holds a model's packed weights below `mark` (what a stepper leaves for the next). */
interface Packed {
  k: StepKernel;
  half: boolean;
  model: number; // byte address of the Model struct
  layers: number; // byte address of the Layer structs
  mark: number; // the first byte above the weights: each stepper lays its state out from here
  used: number; // the first byte its last stepper did not touch (zeroed up to here on reuse)
  sig: readonly object[]; // the model's parameters' data ids when packed
  tables: number; // byte address of the tables (inLinearTables), per family (FAMILIES order) V_f rows of P(d)
  firstRow: Int32Array; // (8,): each family's first row in the tables
}

/**
 * in_linear of a word, emb W + b with emb the concatenated scaled embedding rows, is b + sum_f emb_f W_f (W_f: the
 * rows of W that read family f): each family's rows projected once (V_f x d per family; 380 rows for the small
 * preset) make a word's in_linear a sum of eight rows, instead of a product that reads all of W (5% of the step's
 * weights). Each table row is summed in float64 and rounded once, a word's row (the bias, then the eight families'
 * rows) in float32: in the last bits it differs from the product's float32 sums, as the engines differ from each
 * other (the parity tests hold at 1e-4); a row's result does not depend on the batch.
 *
 * The engine has the kernel compute them (step.c `cp_in_table`, the same float64 operations in the same order: the
 * same tables to the bit, test/cp/wasm_engine.test.ts): in JavaScript they were 50-80 ms of a process's first
 * word (12.5 M multiply-adds for the small preset). This is the reference the kernel is checked against.
 */
export function inLinearTablesHost(w: StepWeights): Float32Array[] {
  const d = w.config.dModel;
  const W = host(w.inLinear.w); // (E, d)
  let off = 0;
  return FAMILIES.map((f) => {
    const e = w.config.embSizes[f];
    const V = w.config.nClasses[f];
    const emb = w.emb[f]; // (V, e)
    const t = new Float32Array(V * d); // (V, d)
    const acc = new Float64Array(d);
    for (let v = 0; v < V; v++) {
      acc.fill(0);
      for (let j = 0; j < e; j++) {
        const a = emb[v * e + j] as number;
        const row = (off + j) * d;
        for (let i = 0; i < d; i++) acc[i] = (acc[i] as number) + a * (W[row + i] as number);
      }
      t.set(acc, v * d);
    }
    off += e;
    return t;
  });
}

/** Idle packed instances by model, then by weight form. */
const idle = new WeakMap<object, Map<string, Packed>>();

const signature = (w: StepWeights): object[] => w.model.parameters().map((v) => v.dataId as object);

/** The idle instance of this model and form whose weights are still the model's, taken out of the cache; or null. */
function takePacked(w: StepWeights, form: string): Packed | null {
  const byForm = idle.get(w.model);
  const p = byForm?.get(form);
  if (!p || !byForm) return null;
  byForm.delete(form);
  const sig = signature(w);
  return sig.length === p.sig.length && sig.every((id, i) => id === p.sig[i]) ? p : null;
}

/** A tensor's values on the host. */
const host = (t: { dataSync(): unknown }): Float32Array => t.dataSync() as Float32Array;

export interface WasmEngineOptions {
  /**
   * How the weight matrices are held. `f32`: float32. `half`: half-precision bits when every one of their values is
   * exactly a half (a model stored as F16, as the shipped one), else float32; both give the same logits to the bit
   * (step.c `matvec_h`). Halves read half the bytes per word but cost two shifts and a mask per four weights to
   * widen, so which is faster depends on whether the weights stay in cache. `auto` (default): float32 up to
   * HALF_ABOVE_BYTES of float32 matrices, halves (when exact) above (`autoWeightForm`).
   */
  weights?: 'auto' | 'f32' | 'half';
}

/**
 * Float32 matrices above this size are held as halves by `auto`. Measured on the README's 2-core EPYC (32 MB L3),
 * CPU time per word at batch 1: the `small` preset (14 MB of float32 matrices, the shipped model's size) 290-340 µs
 * as float32 against 480-670 as halves; the `emopia` preset (156 MB) 8.1-8.8 ms as float32 against 5.5-5.6 as
 * halves. The crossover between the two was not measured: 24 MiB is a guess at what stays in such an L3.
 */
export const HALF_ABOVE_BYTES = 24 * 2 ** 20;

/** The second head's width: the classes of the non-type families side by side (StepWeights.rest's columns). */
const restWidth = (cfg: StepWeights['config']): number => NON_TYPE_FAMILIES.reduce((n, fam) => n + cfg.nClasses[fam], 0);

/** The float32 bytes of a model's step matrices (in_linear, the heads, every layer's products). */
export function stepMatrixBytes(cfg: StepWeights['config']): number {
  const { dModel: d, dFF: f, nLayers } = cfg;
  const E = FAMILIES.reduce((n, fam) => n + cfg.embSizes[fam], 0);
  const nRest = restWidth(cfg);
  const perLayer = d * 3 * d + d * d + 2 * d * f;
  return 4 * (E * d + d * cfg.nClasses.type + (d + cfg.embSizes.type) * d + d * nRest + nLayers * perLayer);
}

/** The form `auto` holds a model's weights in (halves only where every weight is one: see WasmEngineOptions). */
export function autoWeightForm(cfg: StepWeights['config']): 'f32' | 'half' {
  return stepMatrixBytes(cfg) > HALF_ABOVE_BYTES ? 'half' : 'f32';
}

/** The `wasm` engine (see engine.ts). Holds no tensor: `dispose` leaves its instance for the model's next stepper. */
export class WasmStepper implements EngineCore {
  /** Whether the weight matrices are held as halves (see WasmEngineOptions). */
  readonly half: boolean;
  /** Whether this stepper reuses an earlier stepper's packed weights (see the file's comment). */
  readonly reused: boolean;
  private k: StepKernel | null;
  private readonly packed: Packed;
  private readonly form: string;
  private top: number; // the next free byte of the instance's memory
  private f32: Float32Array;
  private i32: Int32Array;
  private readonly model: number; // byte address of the Model struct
  private readonly layers: number; // byte address of the Layer structs
  private readonly d: number;
  private readonly nType: number;
  private readonly nRest: number;
  private readonly eType: number;
  private readonly softmax: boolean;
  private cap = 0;

  constructor(private readonly w: StepWeights, readonly batch: number, opts: WasmEngineOptions = {}) {
    const cfg = w.config;
    const B = batch;
    const d = (this.d = cfg.dModel);
    const E = w.inLinear.w.shape[0];
    this.eType = cfg.embSizes.type;
    this.nType = cfg.nClasses.type;
    this.nRest = restWidth(cfg); // w.rest's width, without making it
    this.softmax = cfg.attention === 'softmax';
    const asked = opts.weights ?? 'auto';
    this.form = asked === 'auto' ? autoWeightForm(cfg) : asked;
    const reuse = takePacked(w, this.form);
    this.reused = reuse !== null;
    const k = (this.k = reuse ? reuse.k : instantiateStep());
    if (k.modelSize !== MODEL_BYTES || k.layerSize !== LAYER_BYTES) {
      throw new Error(`wasm engine: the kernel's structs are ${k.modelSize} and ${k.layerSize} bytes, expected ${MODEL_BYTES} and ${LAYER_BYTES} (rebuild with npm run build:wasm)`);
    }
    this.f32 = new Float32Array(k.memory.buffer);
    this.i32 = new Int32Array(k.memory.buffer);
    if (reuse) {
      this.f32.fill(0, reuse.mark / 4, reuse.used / 4); // alloc hands out zeros
      this.top = reuse.mark;
      this.packed = reuse;
    } else {
      this.top = Math.ceil(k.heapBase / 16) * 16;
      this.packed = this.pack(k);
    }
    this.half = this.packed.half;
    this.model = this.packed.model;
    this.layers = this.packed.layers;
    const m = (slot: number, v: number) => this.setI32(this.model, slot, v);
    const ints: [number, number][] = [
      [MODEL.B, B], [MODEL.d, d], [MODEL.h, cfg.nHeads], [MODEL.dff, cfg.dFF], [MODEL.E, E], [MODEL.eType, this.eType],
      [MODEL.nType, this.nType], [MODEL.nRest, this.nRest], [MODEL.nLayers, w.layers.length], [MODEL.softmax, this.softmax ? 1 : 0],
    ];
    for (const [slot, v] of ints) m(slot, v);
    const dh = d / cfg.nHeads;
    w.layers.forEach((_, i) => {
      const base = this.layers + i * LAYER.size * 4;
      if (!this.softmax) {
        this.setI32(base, LAYER.sa, this.alloc(B * cfg.nHeads * dh * dh)); // S (B, h, dv, dk), zeros
        this.setI32(base, LAYER.sb, this.alloc(B * d)); // z (B, h, dk), zeros
      }
    });
    m(MODEL.emb, this.alloc(B * E)); // (B, E): feed's rows (feedWords writes `rows` instead)
    m(MODEL.pe, this.alloc(pad16(d))); // (d,)
    m(MODEL.x, this.alloc(B * pad16(d))); // (B, P(d))
    m(MODEL.qkv, this.alloc(B * pad16(3 * d))); // (B, P(3d))
    m(MODEL.att, this.alloc(B * pad16(d))); // (B, P(d))
    m(MODEL.ffh, this.alloc(B * pad16(cfg.dFF))); // (B, P(dFF))
    m(MODEL.cat, this.alloc(B * (d + this.eType))); // (B, d + e_type)
    m(MODEL.y, this.alloc(B * pad16(d))); // (B, P(d))
    m(MODEL.typeLogits, this.alloc(B * pad16(this.nType))); // (B, P(n_type))
    m(MODEL.restLogits, this.alloc(B * pad16(this.nRest))); // (B, P(n_rest))
    m(MODEL.xs, this.alloc(B * Math.max(E, cfg.dFF, d + this.eType))); // (B, largest input width): a product's scaled input
    m(MODEL.tables, this.packed.tables);
    m(MODEL.rows, this.alloc(B * N_FAMILIES)); // (B, 8) int32: each word's table row per family
    if (this.softmax) this.growCache(Math.min(FIRST_CAP, cfg.maxLen));
  }

  /** Lays out the Model and Layer structs and packs every weight into a new instance's memory. */
  private pack(k: StepKernel): Packed {
    const w = this.w;
    const model = this.alloc(MODEL.size);
    const layers = this.alloc(LAYER.size * w.layers.length);
    const m = (slot: number, v: number) => this.setI32(model, slot, v);
    // Every weight matrix packed as float32, or (weights: 'half') as halves when all of them are exact halves: each
    // matrix is copied into a scratch area of the instance's memory, where the kernel packs it (faster than in
    // JavaScript: start-up counts in a short piece). Halves are tried first, checked while packing; at the first
    // value that is not a half, the matrices' memory is cleared and they are all packed as float32.
    const matrices = [w.inLinear, w.typeHead, w.concatType, w.rest, ...w.layers.flatMap((L) => [L.qkv, L.out, L.ff1, L.ff2])];
    // (largest in * out,), or in_linear's W, a family's embedding rows and d doubles for the tables (inLinearTables)
    const cfg = w.config;
    const maxVe = Math.max(...FAMILIES.map((f) => cfg.nClasses[f] * cfg.embSizes[f]));
    const scratch = this.alloc(Math.max(...matrices.map((p) => p.w.size), w.inLinear.w.size + maxVe + 2 * cfg.dModel + 4));
    const mark = this.top;
    const packAll = (half: boolean): Map<Affine, number> | null => {
      const at = new Map<Affine, number>();
      for (const p of matrices) {
        const [inF, outF] = p.w.shape as [number, number];
        const n = pad16(outF) * inF;
        const dst = this.alloc(half ? Math.ceil(n / 2) : n);
        this.f32.set(host(p.w), scratch / 4);
        if (half) {
          if (!k.packHalf(scratch, inF, outF, dst)) return null;
        } else {
          k.packF32(scratch, inF, outF, dst);
        }
        at.set(p, dst);
      }
      return at;
    };
    let packed = this.form === 'half' ? packAll(true) : null;
    const half = packed !== null;
    if (!packed) {
      this.f32.fill(0, mark / 4, this.top / 4); // alloc hands out zeros
      this.top = mark;
      packed = packAll(false) as Map<Affine, number>;
    }
    m(MODEL.half, half ? 1 : 0);
    /** Stores a packed Linear: [W, b] slots. */
    const affine = (base: number, wSlot: number, bSlot: number, p: Affine) => {
      this.setI32(base, wSlot, packed.get(p) as number);
      this.setI32(base, bSlot, this.put(padVector(host(p.b))));
    };
    /** Stores a LayerNorm: [g, b] slots and its eps. */
    const norm = (base: number, gSlot: number, bSlot: number, epsSlot: number, n: LayerNorm) => {
      this.setI32(base, gSlot, this.put(padVector(host(n.weight))));
      this.setI32(base, bSlot, this.put(padVector(host(n.bias))));
      this.f32[base / 4 + epsSlot] = n.eps;
    };
    affine(model, MODEL.inW, MODEL.inB, w.inLinear);
    norm(model, MODEL.normG, MODEL.normB, MODEL.normEps, w.norm);
    affine(model, MODEL.typeW, MODEL.typeB, w.typeHead);
    affine(model, MODEL.catW, MODEL.catB, w.concatType);
    affine(model, MODEL.restW, MODEL.restB, w.rest);
    w.layers.forEach((L, i) => {
      const base = layers + i * LAYER.size * 4;
      affine(base, LAYER.qkvW, LAYER.qkvB, L.qkv);
      affine(base, LAYER.outW, LAYER.outB, L.out);
      affine(base, LAYER.ff1W, LAYER.ff1B, L.ff1);
      affine(base, LAYER.ff2W, LAYER.ff2B, L.ff2);
      norm(base, LAYER.n1G, LAYER.n1B, LAYER.n1Eps, L.norm1);
      norm(base, LAYER.n2G, LAYER.n2B, LAYER.n2Eps, L.norm2);
    });
    m(MODEL.layers, layers);
    const { tables, firstRow } = this.inTables(k, scratch);
    return { k, half, model, layers, mark: this.top, used: this.top, sig: signature(w), tables, firstRow };
  }

  /**
   * in_linear's tables (inLinearTablesHost), computed by the kernel into rows of P(d) (zeros past d, as the bias's
   * padding) for its sum (embed_rows); `scratch` holds in_linear's W, then a family's embedding rows, then the
   * kernel's d doubles. Returns their address and each family's first row.
   */
  private inTables(k: StepKernel, scratch: number): { tables: number; firstRow: Int32Array } {
    const { config: cfg, inLinear } = this.w;
    const d = cfg.dModel;
    const pd = pad16(d);
    const firstRow = new Int32Array(N_FAMILIES);
    const tables = this.alloc(pd * FAMILIES.reduce((n, f) => n + cfg.nClasses[f], 0));
    const E = inLinear.w.shape[0];
    const embAt = scratch + E * d * 4;
    const maxVe = Math.max(...FAMILIES.map((f) => cfg.nClasses[f] * cfg.embSizes[f]));
    const accAt = Math.ceil((embAt + maxVe * 4) / 16) * 16;
    this.f32.set(host(inLinear.w), scratch / 4); // (E, d)
    let row = 0;
    let off = 0;
    FAMILIES.forEach((f, fi) => {
      const V = cfg.nClasses[f];
      const e = cfg.embSizes[f];
      firstRow[fi] = row;
      this.f32.set(this.w.emb[f], embAt / 4); // (V, e)
      k.inTable(embAt, V, e, scratch + off * d * 4, d, tables + row * pd * 4, accAt);
      row += V;
      off += e;
    });
    return { tables, firstRow };
  }

  /** n floats of zeros, 16-byte aligned; grows the memory as needed. Returns the byte address. */
  private alloc(n: number): number {
    const at = this.top;
    this.top = at + Math.ceil((n * 4) / 16) * 16;
    const mem = (this.k as StepKernel).memory;
    if (this.top > mem.buffer.byteLength) {
      try {
        mem.grow(Math.ceil((this.top - mem.buffer.byteLength) / WASM_PAGE));
      } catch {
        throw new InputError('generation', `the wasm engine needs ${Math.ceil(this.top / 2 ** 20)} MiB, beyond WebAssembly's memory limit; generate fewer pieces at once (--batch) or choose the tensor engine`);
      }
      this.f32 = new Float32Array(mem.buffer);
      this.i32 = new Int32Array(mem.buffer);
    }
    return at;
  }

  /**
   * Writes an int slot of a struct at byte address `base`. (Not `this.i32[..] = this.alloc(..)`: JavaScript reads
   * `this.i32` before the call, and a growing memory detaches that view, so the write would be lost.)
   */
  private setI32(base: number, slot: number, v: number): void {
    this.i32[base / 4 + slot] = v;
  }

  /** Copies values into new memory; returns the byte address. */
  private put(v: Float32Array): number {
    const at = this.alloc(v.length);
    this.f32.set(v, at / 4);
    return at;
  }

  /**
   * Softmax: every layer's key/value cache and the scores rows moved to `rows` rows per sequence, rounded up to a
   * multiple of 16 (old rows kept). Keys are stored in blocks of 16 positions ([cap/16][d][16], step.c's KROWS), so
   * a sequence's first `old` rows are its first `old * d` floats in either layout.
   */
  private growCache(rows: number): void {
    const { batch: B, d } = this;
    const cap = pad16(rows);
    const old = this.cap;
    for (let i = 0; i < this.w.layers.length; i++) {
      const base = (this.layers + i * LAYER.size * 4) / 4;
      for (const slot of [LAYER.sa, LAYER.sb]) {
        const from = this.i32[base + slot] as number;
        const to = this.alloc(B * cap * d); // (B, cap, d)
        for (let r = 0; r < B && old > 0; r++) this.f32.copyWithin(to / 4 + r * cap * d, from / 4 + r * old * d, from / 4 + (r * old + old) * d);
        this.i32[base + slot] = to;
      }
      this.i32[base + LAYER.cap] = cap;
    }
    this.setI32(this.model, MODEL.scores, this.alloc(this.w.config.nHeads * cap)); // (h, cap)
    this.cap = cap;
  }

  private slot(s: number): number {
    return this.i32[this.model / 4 + s] as number;
  }

  /** Reads the concatenated embedding rows emb [B, E]: the kernel computes in_linear with its product. */
  feed(emb: Float32Array, pos: number): void {
    this.before(pos);
    this.setI32(this.model, MODEL.pre, 0);
    this.f32.set(emb, this.slot(MODEL.emb) / 4);
    (this.k as StepKernel).feed(this.model, pos);
  }

  /**
   * Reads the words themselves: in_linear as the bias plus each family's table row (inLinearTables), summed by the
   * kernel (embed_rows: f32 adds in FAMILIES order, as this loop did in JavaScript until session 14, ~9 µs a word;
   * the same sums to the bit). Here only each word's row per family is written.
   */
  feedWords(words: readonly (readonly number[])[], pos: number): void {
    this.before(pos);
    this.setI32(this.model, MODEL.pre, 1);
    const { firstRow } = this.packed;
    const at = this.slot(MODEL.rows) / 4;
    const rows = this.i32;
    for (let r = 0; r < words.length; r++) {
      const word = words[r] as readonly number[];
      for (let fi = 0; fi < N_FAMILIES; fi++) rows[at + r * N_FAMILIES + fi] = (firstRow[fi] as number) + (word[FAMILY_INDEX[FAMILIES[fi] as Family]] as number);
    }
    (this.k as StepKernel).feed(this.model, pos);
  }

  /** The softmax cache grown for position `pos`, and the positional row written. */
  private before(pos: number): void {
    if (this.softmax && pos >= this.cap) this.growCache(Math.min(Math.max(2 * this.cap, pos + 1), this.w.config.maxLen));
    this.f32.set(this.w.pe(pos), this.slot(MODEL.pe) / 4);
  }

  /** Rows of n values out of a padded [B][pad16(n)] buffer. */
  private read(slot: number, n: number): Float32Array {
    const out = new Float32Array(this.batch * n); // (B, n)
    const at = this.slot(slot) / 4;
    const ld = pad16(n);
    for (let r = 0; r < this.batch; r++) out.set(this.f32.subarray(at + r * ld, at + r * ld + n), r * n);
    return out;
  }

  typeLogits(): Float32Array {
    return this.read(MODEL.typeLogits, this.nType);
  }

  restLogits(te: Float32Array): Float32Array {
    const { d, eType } = this;
    const cat = this.slot(MODEL.cat) / 4;
    for (let r = 0; r < this.batch; r++) this.f32.set(te.subarray(r * eType, (r + 1) * eType), cat + r * (d + eType) + d);
    (this.k as StepKernel).rest(this.model);
    return this.read(MODEL.restLogits, this.nRest);
  }

  /**
   * Leaves the instance with its packed weights for the model's next stepper (or drops it when its memory grew
   * past KEEP_SLACK); the prepared weights belong to the stepper around this engine.
   */
  dispose(): void {
    if (this.k && this.top - this.packed.mark <= KEEP_SLACK) {
      let byForm = idle.get(this.w.model);
      if (!byForm) idle.set(this.w.model, (byForm = new Map()));
      // The same object, updated (not a copy): a copy would be an object of another shape to the next stepper's
      // feedWords, whose optimised code V8 would then throw away and recompile (~4 ms of a piece's first words).
      this.packed.used = this.top;
      byForm.set(this.form, this.packed);
    }
    this.k = null;
    this.f32 = new Float32Array(0);
    this.i32 = new Int32Array(0);
  }
}
