/**
 * A hand-written SVG chart of musical statistics per quadrant: one small panel per statistic, and in each panel
 * one bar per quadrant and series (e.g. generated vs real), with a whisker of +-1 standard deviation.
 */
import { STAT_KEYS, STAT_LABELS, type StatKey, type StatSummary } from './stats.ts';

export interface ChartSeries {
  label: string;
  /** By quadrant name (Q1..Q4): the statistics' mean and std; a missing quadrant draws no bar. */
  stats: Record<string, Record<StatKey, StatSummary>>;
}

const COLORS = ['#3b6fb6', '#e08a2c', '#5aa05a', '#a25aa0'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(2)) : 0);

/** Tick step giving about 4 ticks over [0, max]. */
function niceStep(max: number): number {
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

export function statsChartSvg(series: readonly ChartSeries[], quadrants: readonly string[], title: string): string {
  const cols = 4;
  const pw = 230;
  const ph = 190;
  const rows = Math.ceil(STAT_KEYS.length / cols);
  const W = cols * pw + 20;
  const H = rows * ph + 70;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  series.forEach((s, i) => {
    const x = 20 + i * 170;
    out.push(`<rect x="${x}" y="30" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 16}" y="40">${esc(s.label)}</text>`);
  });
  STAT_KEYS.forEach((key, k) => {
    const ox = 10 + (k % cols) * pw;
    const oy = 55 + Math.floor(k / cols) * ph;
    const left = ox + 40;
    const right = ox + pw - 10;
    const top = oy + 22;
    const bottom = oy + ph - 30;
    let max = 0;
    for (const s of series) for (const q of quadrants) {
      const st = s.stats[q]?.[key];
      if (st && Number.isFinite(st.mean)) max = Math.max(max, st.mean + (Number.isFinite(st.std) ? st.std : 0));
    }
    if (!(max > 0)) max = 1;
    const step = niceStep(max);
    const top_ = Math.ceil(max / step) * step;
    const y = (v: number) => bottom - (Math.max(0, v) / top_) * (bottom - top);
    out.push(`<text x="${ox + pw / 2}" y="${oy + 12}" text-anchor="middle" font-weight="bold">${esc(STAT_LABELS[key])}</text>`);
    for (let t = 0; t <= top_ + 1e-9; t += step) {
      out.push(`<line x1="${left}" x2="${right}" y1="${num(y(t))}" y2="${num(y(t))}" stroke="#ddd"/>`);
      out.push(`<text x="${left - 4}" y="${num(y(t)) + 4}" text-anchor="end">${num(t)}</text>`);
    }
    out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/><line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
    const groupW = (right - left) / quadrants.length;
    const barW = (groupW - 10) / Math.max(1, series.length);
    quadrants.forEach((q, qi) => {
      const gx = left + qi * groupW + 5;
      out.push(`<text x="${num(gx + (groupW - 10) / 2)}" y="${bottom + 14}" text-anchor="middle">${esc(q)}</text>`);
      series.forEach((s, si) => {
        const st = s.stats[q]?.[key];
        if (!st || !Number.isFinite(st.mean)) return;
        const bx = gx + si * barW;
        const by = y(st.mean);
        out.push(`<rect x="${num(bx)}" y="${num(by)}" width="${num(barW - 1)}" height="${num(bottom - by)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.label} ${q}: ${st.mean.toFixed(3)} ± ${st.std.toFixed(3)}`)}</title></rect>`);
        if (Number.isFinite(st.std) && st.std > 0) {
          const cx = num(bx + (barW - 1) / 2);
          out.push(`<line x1="${cx}" x2="${cx}" y1="${num(y(st.mean - st.std))}" y2="${num(y(st.mean + st.std))}" stroke="#222"/>`);
        }
      });
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
