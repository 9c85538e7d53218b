/**
 * A line chart as inline SVG: one or more series over a shared x axis, with
 * ticks, optional vertical markers (swaps, rollbacks), shaded x ranges (held
 * periods) and a linear or log y axis. It scales to the width of its
 * container (viewBox, width 100%). No script, no external asset.
 */
import { escapeHtml } from './escape.js';

export interface ChartSeries {
  name: string;
  color: string;
  points: readonly (readonly [x: number, y: number])[];
}

export interface ChartMarker {
  x: number;
  label: string;
  color: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  markers?: readonly ChartMarker[];
  /** x ranges to shade, e.g. the periods the lattice was held for a benchmark. */
  bands?: readonly { from: number; to: number; label: string }[];
  /** log plots y > 0 only; values at or below zero sit on the axis floor. */
  yScale?: 'linear' | 'log';
  formatY?: (y: number) => string;
}

const WIDTH = 900;
const HEIGHT = 280;
const MARGIN = { left: 78, right: 20, top: 30, bottom: 44 };
const TICKS = 6;

/** Round tick positions covering [low, high]. */
export function niceTicks(low: number, high: number, count = TICKS): number[] {
  if (!(high > low)) return [low];
  const rough = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let tick = Math.ceil(low / step) * step; tick <= high + step * 1e-9; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

interface Axis {
  low: number;
  high: number;
  toPixel: (value: number) => number;
  ticks: number[];
}

function extent(values: number[]): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  if (!Number.isFinite(low)) return [0, 1];
  return low === high ? [low - 0.5 * Math.abs(low || 1), high + 0.5 * Math.abs(high || 1)] : [low, high];
}

function xAxis(values: number[]): Axis {
  const [low, high] = extent(values);
  const span = WIDTH - MARGIN.left - MARGIN.right;
  return { low, high, ticks: niceTicks(low, high), toPixel: (x) => MARGIN.left + ((x - low) / (high - low)) * span };
}

function yAxis(values: number[], scale: 'linear' | 'log'): Axis {
  const span = HEIGHT - MARGIN.top - MARGIN.bottom;
  const bottom = HEIGHT - MARGIN.bottom;
  if (scale === 'log') {
    const positive = values.filter((value) => value > 0);
    const [low, high] = extent(positive.length > 0 ? positive.map(Math.log10) : [-17, -16]);
    const lowDecade = Math.floor(low);
    const highDecade = Math.max(Math.ceil(high), lowDecade + 1);
    const ticks = niceTicks(lowDecade, highDecade)
      .filter(Number.isInteger)
      .map((decade) => 10 ** decade);
    const toPixel = (y: number) => {
      const decade = y > 0 ? Math.max(Math.log10(y), lowDecade) : lowDecade;
      return bottom - ((decade - lowDecade) / (highDecade - lowDecade)) * span;
    };
    return { low: 10 ** lowDecade, high: 10 ** highDecade, ticks, toPixel };
  }
  const [dataLow, high] = extent(values);
  const low = dataLow >= 0 && dataLow < high * 0.5 ? 0 : dataLow;
  return { low, high, ticks: niceTicks(low, high), toPixel: (y) => bottom - ((y - low) / (high - low)) * span };
}

function polyline(series: ChartSeries, x: Axis, y: Axis): string {
  const points = series.points.map(([px, py]) => `${x.toPixel(px).toFixed(1)},${y.toPixel(py).toFixed(1)}`).join(' ');
  return `<polyline fill="none" stroke="${escapeHtml(series.color)}" stroke-width="1.6" points="${points}"><title>${escapeHtml(series.name)}</title></polyline>`;
}

function frame(options: LineChartOptions, x: Axis, y: Axis): string[] {
  const formatY = options.formatY ?? ((value: number) => String(value));
  const bottom = HEIGHT - MARGIN.bottom;
  const parts = [
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" class="chart-title">${escapeHtml(options.title)}</text>`,
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${WIDTH - MARGIN.right}" y2="${bottom}" class="axis"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" class="axis"/>`,
    `<text x="${WIDTH / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeHtml(options.xLabel)}</text>`,
    `<text x="14" y="${HEIGHT / 2}" text-anchor="middle" transform="rotate(-90 14 ${HEIGHT / 2})">${escapeHtml(options.yLabel)}</text>`,
  ];
  for (const tick of x.ticks) {
    const px = x.toPixel(tick).toFixed(1);
    parts.push(`<line x1="${px}" y1="${bottom}" x2="${px}" y2="${bottom + 4}" class="axis"/>`);
    parts.push(`<text x="${px}" y="${bottom + 16}" text-anchor="middle">${escapeHtml(String(tick))}</text>`);
  }
  for (const tick of y.ticks) {
    const py = y.toPixel(tick).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" y1="${py}" x2="${WIDTH - MARGIN.right}" y2="${py}" class="grid"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatY(tick))}</text>`);
  }
  return parts;
}

/** One entry per name: a line drawn in several pieces (series of the same name) is one line. */
function legend(all: readonly ChartSeries[]): string[] {
  const series = all.filter((s, i) => all.findIndex((other) => other.name === s.name) === i);
  return series.map(
    (s, i) =>
      `<g transform="translate(${MARGIN.left + 10 + i * 160} ${MARGIN.top + 4})">` +
      `<rect width="12" height="3" y="4" fill="${escapeHtml(s.color)}"/>` +
      `<text x="16" y="9">${escapeHtml(s.name)}</text></g>`,
  );
}

export function lineChart(options: LineChartOptions): string {
  const points = options.series.flatMap((series) => series.points);
  if (points.length === 0) {
    return `<p class="empty">${escapeHtml(options.title)}: no samples were recorded.</p>`;
  }
  const markers = options.markers ?? [];
  const x = xAxis(points.map(([px]) => px));
  const y = yAxis(
    points.map(([, py]) => py),
    options.yScale ?? 'linear',
  );
  const markerLines = markers
    .filter((marker) => marker.x >= x.low && marker.x <= x.high)
    .map((marker) => {
      const px = x.toPixel(marker.x).toFixed(1);
      return (
        `<line x1="${px}" y1="${MARGIN.top}" x2="${px}" y2="${HEIGHT - MARGIN.bottom}" stroke="${escapeHtml(marker.color)}" ` +
        `stroke-dasharray="4 3" class="marker"><title>${escapeHtml(marker.label)}</title></line>`
      );
    });
  const bands = (options.bands ?? []).map((band) => {
    const from = x.toPixel(Math.max(band.from, x.low));
    const to = x.toPixel(Math.min(band.to, x.high));
    return (
      `<rect x="${from.toFixed(1)}" y="${MARGIN.top}" width="${Math.max(to - from, 1).toFixed(1)}" height="${HEIGHT - MARGIN.top - MARGIN.bottom}" ` +
      `class="band"><title>${escapeHtml(band.label)}</title></rect>`
    );
  });
  return [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" style="max-width:${WIDTH}px" role="img" aria-label="${escapeHtml(options.title)}">`,
    ...bands,
    ...frame(options, x, y),
    ...markerLines,
    ...options.series.map((series) => polyline(series, x, y)),
    ...legend(options.series),
    '</svg>',
  ].join('\n');
}
