import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

/** One point of a chart: a label for the x axis (a date) and a value, null where there is none. */
export interface ChartPoint {
  label: string;
  value: number | null;
}

/** Least-squares slope and intercept of value against index (null below two points). */
export function linearTrend(points: readonly ChartPoint[]): { slope: number; intercept: number } | null {
  const xs: number[] = [];
  const ys: number[] = [];
  points.forEach((p, i) => {
    if (p.value !== null && Number.isFinite(p.value)) {
      xs.push(i);
      ys.push(p.value);
    }
  });
  if (xs.length < 2) return null;
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < xs.length; i++) {
    covariance += (xs[i]! - meanX) * (ys[i]! - meanY);
    variance += (xs[i]! - meanX) ** 2;
  }
  const slope = variance === 0 ? 0 : covariance / variance;
  return { slope, intercept: meanY - slope * meanX };
}

const WIDTH = 640;
const HEIGHT = 200;
const PAD = { left: 104, right: 12, top: 12, bottom: 28 };

/**
 * A bar chart of the values with the fitted trend as a dashed line, as inline SVG (no script, no
 * external assets). `title` names the chart for screen readers; `unit` formats axis values.
 */
export function barChart(
  points: readonly ChartPoint[],
  title: string,
  format: (v: number) => string,
): HtmlEscapedString | Promise<HtmlEscapedString> {
  const values = points.map((p) => p.value).filter((v): v is number => v !== null && Number.isFinite(v));
  if (values.length === 0) return html`<p class="muted">No data to chart yet.</p>`;
  const max = Math.max(0, ...values);
  const min = Math.min(0, ...values);
  const span = max - min || 1;
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + ((max - v) / span) * innerH;
  const step = innerW / points.length;
  const barW = Math.max(1, Math.min(step * 0.7, 36));
  const bars = points
    .map((p, i) => {
      if (p.value === null || !Number.isFinite(p.value)) return '';
      const top = Math.min(y(p.value), y(0));
      const height = Math.max(1, Math.abs(y(p.value) - y(0)));
      const cls = p.value < 0 ? 'bar neg' : 'bar';
      const x = (PAD.left + i * step + (step - barW) / 2).toFixed(1);
      const box = `x="${x}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${height.toFixed(1)}"`;
      return `<rect class="${cls}" ${box}><title>${escapeXml(p.label)}: ${escapeXml(format(p.value))}</title></rect>`;
    })
    .join('');
  const trend = linearTrend(points);
  let trendLine = '';
  if (trend) {
    const [x1, x2] = [PAD.left + step / 2, PAD.left + (points.length - 0.5) * step].map((v) => v.toFixed(1));
    const [y1, y2] = [trend.intercept, trend.intercept + trend.slope * (points.length - 1)].map((v) => y(v).toFixed(1));
    trendLine = `<line class="trend" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}"/>`;
  }
  const axis = `<line class="axis" x1="${PAD.left}" y1="${y(0).toFixed(1)}" x2="${WIDTH - PAD.right}" y2="${y(0).toFixed(1)}"/>`;
  const labels =
    `<text class="tick" x="${PAD.left - 6}" y="${(y(max) + 4).toFixed(1)}" text-anchor="end">${escapeXml(format(max))}</text>` +
    (min < 0
      ? `<text class="tick" x="${PAD.left - 6}" y="${(y(min) + 4).toFixed(1)}" text-anchor="end">${escapeXml(format(min))}</text>`
      : '') +
    `<text class="tick" x="${PAD.left}" y="${HEIGHT - 8}">${escapeXml(points[0]!.label)}</text>` +
    `<text class="tick" x="${WIDTH - PAD.right}" y="${HEIGHT - 8}" text-anchor="end">${escapeXml(points.at(-1)!.label)}</text>`;
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${title}">
    <title>${title}</title>
    ${raw(axis + bars + trendLine + labels)}
  </svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}
