/**
 * Playback with the Salamander Grand Piano (two velocity layers, CC BY 3.0) through Tone.js: loaded on the first
 * press of Play, so the first load stays small. Velocity is audible twice: it picks the soft or the loud layer and
 * scales the gain.
 */
import * as Tone from 'tone';
import { secondsAt, ticksAt } from '../src/music/time_map.ts';
import type { Score } from '../src/music/score.ts';

const SOFT_BELOW = 64; // velocities under this play the soft layer (velocity 4 of 16), the rest the loud one (10)

let samplers: Promise<{ soft: Tone.Sampler; loud: Tone.Sampler }> | null = null;

function loadSamplers(base: string): Promise<{ soft: Tone.Sampler; loud: Tone.Sampler }> {
  samplers ??= (async () => {
    const list = (await (await fetch(`${base}piano/samples.json`)).json()) as Record<string, Record<string, string>>;
    const make = (layer: string) =>
      new Promise<Tone.Sampler>((resolve, reject) => {
        const s: Tone.Sampler = new Tone.Sampler({
          urls: list[layer] ?? {}, baseUrl: `${base}piano/v${layer}/`, release: 1,
          onload: () => resolve(s), onerror: (e) => reject(e),
        }).toDestination();
      });
    const [soft, loud] = await Promise.all([make('4'), make('10')]);
    return { soft, loud };
  })();
  return samplers;
}

export class Player {
  private part: Tone.Part | null = null;
  private score: Score | null = null;
  private toSec: (tick: number) => number = (t) => t;
  private toTick: (sec: number) => number = (s) => s;
  private end = 0;
  private frame = 0;

  constructor(private readonly base: string, private readonly onCursor: (tick: number | null) => void, private readonly onState: (playing: boolean) => void) {}

  get playing(): boolean {
    return Tone.getTransport().state === 'started';
  }

  /** A new piece: playback stops and starts from its beginning next time. */
  load(score: Score | null): void {
    this.stop();
    this.score = score;
  }

  async toggle(): Promise<void> {
    if (this.playing) return this.pause();
    const score = this.score;
    if (!score) return;
    await Tone.start();
    const { soft, loud } = await loadSamplers(this.base);
    const transport = Tone.getTransport();
    if (!this.part) {
      this.toSec = secondsAt(score.tempos);
      this.toTick = ticksAt(score.tempos);
      const events = score.notes.map((n) => ({
        time: this.toSec(n.start), dur: Math.max(0.05, this.toSec(n.end) - this.toSec(n.start)), pitch: n.pitch, velocity: n.velocity,
      }));
      this.end = events.reduce((m, e) => Math.max(m, e.time + e.dur), 0);
      this.part = new Tone.Part((time, e) => {
        const note = Tone.Frequency(e.pitch, 'midi').toNote();
        (e.velocity < SOFT_BELOW ? soft : loud).triggerAttackRelease(note, e.dur, time, Math.min(1, 0.15 + e.velocity / 127));
      }, events).start(0);
      transport.seconds = 0;
    }
    transport.start();
    this.onState(true);
    const tick = () => {
      const s = transport.seconds;
      if (s > this.end + 1) {
        this.stop();
        return;
      }
      this.onCursor(this.toTick(s));
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  pause(): void {
    Tone.getTransport().pause();
    cancelAnimationFrame(this.frame);
    void loadSamplers(this.base).then(({ soft, loud }) => (soft.releaseAll(), loud.releaseAll()));
    this.onState(false);
  }

  stop(): void {
    const transport = Tone.getTransport();
    transport.stop();
    transport.cancel();
    this.part?.dispose();
    this.part = null;
    cancelAnimationFrame(this.frame);
    this.onCursor(null);
    this.onState(false);
  }
}
