/** The piano roll: a Score's notes on a canvas (time across, pitch up, velocity as shade), bar lines, a cursor. */
import type { Score } from '../src/music/score.ts';

const LOW = 21; // A0
const HIGH = 108; // C8

export class PianoRoll {
  private score: Score | null = null;
  private cursorTick: number | null = null;
  /** Ticks the roll spans at least (so that a piece being written does not stretch as it grows). */
  private minTicks = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  /** Shows `score`; `minTicks` keeps the scale while a piece grows. */
  show(score: Score | null, minTicks = 0): void {
    this.score = score;
    this.minTicks = minTicks;
    this.canvas.dataset.notes = String(score?.notes.length ?? 0);
    this.draw();
  }

  cursor(tick: number | null): void {
    this.cursorTick = tick;
    if (tick === null) delete this.canvas.dataset.cursor;
    else this.canvas.dataset.cursor = tick.toFixed(0);
    this.draw();
  }

  private draw(): void {
    const c = this.canvas;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const W = c.width;
    const H = c.height;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, W, H);
    const rowH = H / (HIGH - LOW + 1);
    // C rows, lightly
    ctx.fillStyle = '#f1f4f7';
    for (let p = LOW; p <= HIGH; p++) if ([1, 3, 6, 8, 10].includes(p % 12)) ctx.fillRect(0, H - (p - LOW + 1) * rowH, W, rowH);
    const score = this.score;
    if (!score) return;
    const end = Math.max(this.minTicks, ...score.notes.map((n) => n.end), 1);
    const x = (t: number) => (t / end) * W;
    const ts = score.timeSignatures[0];
    const barTicks = ts ? (score.ticksPerBeat * 4 * ts.numerator) / ts.denominator : score.ticksPerBeat * 4;
    ctx.strokeStyle = '#d5dbe1';
    ctx.lineWidth = 1;
    for (let t = 0; t <= end; t += barTicks) {
      ctx.beginPath();
      ctx.moveTo(Math.round(x(t)) + 0.5, 0);
      ctx.lineTo(Math.round(x(t)) + 0.5, H);
      ctx.stroke();
    }
    for (const n of score.notes) {
      const shade = 0.35 + 0.65 * (n.velocity / 127);
      ctx.fillStyle = `rgba(47, 111, 179, ${shade.toFixed(3)})`;
      const y = H - (Math.min(Math.max(n.pitch, LOW), HIGH) - LOW + 1) * rowH;
      ctx.fillRect(x(n.start), y, Math.max(2, x(n.end) - x(n.start) - 1), Math.max(2, rowH));
    }
    if (this.cursorTick !== null) {
      ctx.strokeStyle = '#d0452f';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x(this.cursorTick), 0);
      ctx.lineTo(x(this.cursorTick), H);
      ctx.stroke();
    }
  }
}
