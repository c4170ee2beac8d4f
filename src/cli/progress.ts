/**
 * Progress for long work: a bar with count, rate and ETA when stderr is a terminal, and a plain log line
 * (at most one every few seconds, plus the last) otherwise, so CI logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Advances to `value` (absolute) and optionally updates the free-text fields shown after the bar. */
  update(value: number, info?: string): void;
  stop(): void;
}

export function startProgress(label: string, total: number, unit = 'items'): Progress {
  const stream = process.stderr;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted} {info}`,
        stream,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    const t0 = Date.now();
    bar.start(total, 0, { rate: '0', info: '' });
    return {
      update(value, info = '') {
        const secs = (Date.now() - t0) / 1000;
        bar.update(value, { rate: secs > 0 ? (value / secs).toFixed(1) : '0', info });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const t0 = Date.now();
  let lastLog = 0;
  let last = 0;
  let lastInfo = '';
  let logged = ''; // the last line written, so that stop() does not repeat it
  const log = (value: number, info: string) => {
    const secs = (Date.now() - t0) / 1000;
    const rate = secs > 0 ? value / secs : 0;
    const eta = rate > 0 ? Math.max(0, (total - value) / rate) : NaN;
    logged = `${value}\0${info}`;
    stream.write(
      `${label}: ${value}/${total} ${unit}, ${rate.toFixed(1)}/s, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)}s` : '?'}${info ? `, ${info}` : ''}\n`,
    );
  };
  return {
    update(value, info = '') {
      last = value;
      lastInfo = info;
      const now = Date.now();
      if (now - lastLog >= 5000) {
        lastLog = now;
        log(value, info);
      }
    },
    stop() {
      if (logged !== `${last}\0${lastInfo}`) log(last, lastInfo);
    },
  };
}
