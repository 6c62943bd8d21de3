// A small line-plot writer for bench/peers.bench.ts: hand-written SVG, log or linear axes, one
// line per series with its own colour and marker, the legend beside the plot (never over it).
// Series that would cover each other (the same points, or within 5 %) are drawn as one line dashed
// in their colours in turn, their markers set side by side, so none hides another.

export type Marker = 'circle' | 'square' | 'triangle' | 'diamond' | 'triangle-down' | 'circle-open' | 'square-open' | 'triangle-open' | 'diamond-open' | 'cross';

export interface PlotSeries {
  label: string;
  color: string;
  marker: Marker;
  points: { x: number; y: number }[];
}

export interface PlotSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  logY: boolean;
  /** Ticks on the x axis (default: decades, or 5 even steps). */
  xTicks?: number[];
  series: PlotSeries[];
  /** A line of small text under the plot. */
  note?: string;
}

/** Distinct colours (d3's category10, the grey last) and markers, in the order strategies are listed. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
export const MARKERS: Marker[] = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'circle-open', 'square-open', 'triangle-open', 'diamond-open', 'cross'];

const WIDTH = 1040;
const HEIGHT = 620;
const PLOT = { left: 84, top: 70, width: 560, height: 460 };
const LEGEND_X = PLOT.left + PLOT.width + 36;
const FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r1 = (v: number) => Math.round(v * 10) / 10;

function formatTick(v: number): string {
  if (v >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (v >= 1) return String(Math.round(v * 100) / 100);
  return String(Number(v.toPrecision(2)));
}

interface Axis {
  pos(v: number): number;
  major: number[];
  minor: number[];
}

/** A scale from data to pixels over [0, length], with ticks. */
function axis(values: number[], log: boolean, length: number, invert: boolean, ticks?: number[]): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!finite.length) [lo, hi] = [1, 10];
  const f = log ? Math.log10 : (v: number) => v;
  let a: number;
  let b: number;
  if (log) {
    a = Math.log10(lo);
    b = Math.log10(hi);
    if (b - a < 1) (a = Math.floor(a + 1e-9), (b = Math.max(b, a + 1)));
    const pad = (b - a) * (invert ? 0.05 : 0.08); // x: room for markers set side by side
    a -= pad;
    b += pad;
  } else {
    a = Math.min(0, lo);
    b = hi === a ? a + 1 : hi * 1.05;
  }
  const pos = (v: number) => {
    const t = (f(v) - a) / (b - a);
    return invert ? length * (1 - t) : length * t;
  };
  const major: number[] = [];
  const minor: number[] = [];
  if (ticks) major.push(...ticks);
  else if (log) {
    for (let e = Math.ceil(a - 1e-9); e <= Math.floor(b + 1e-9); e++) major.push(10 ** e);
    // Up to 4 decades: label 2 and 5 too.
    if (major.length <= 5) for (let e = Math.floor(a); e <= Math.ceil(b); e++) for (const m of [2, 5]) if (Math.log10(m * 10 ** e) > a && Math.log10(m * 10 ** e) < b) major.push(m * 10 ** e);
    major.sort((x, y) => x - y);
  } else {
    const step = niceStep((b - a) / 5);
    for (let v = Math.ceil(a / step) * step; v <= b + 1e-9; v += step) major.push(v);
  }
  if (log) {
    for (let e = Math.floor(a); e <= Math.ceil(b); e++) {
      for (let m = 2; m <= 9; m++) {
        const v = m * 10 ** e;
        if (Math.log10(v) > a && Math.log10(v) < b && !major.includes(v)) minor.push(v);
      }
    }
  }
  return { pos, major: major.filter((v) => (log ? Math.log10(v) >= a - 1e-9 && Math.log10(v) <= b + 1e-9 : v >= a && v <= b)), minor };
}

function niceStep(raw: number): number {
  const e = 10 ** Math.floor(Math.log10(raw));
  const m = raw / e;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
}

/** Two series that would be drawn on top of each other: the same xs, every y within 5 %. */
function sameLine(a: PlotSeries, b: PlotSeries): boolean {
  if (a.points.length !== b.points.length) return false;
  return a.points.every((p, i) => {
    const q = b.points[i];
    if (p.x !== q.x) return false;
    if (p.y === q.y) return true;
    return p.y > 0 && q.y > 0 && Math.max(p.y, q.y) / Math.min(p.y, q.y) <= 1.05;
  });
}

function marker(shape: Marker, x: number, y: number, color: string): string {
  const s = 4.5;
  const open = shape.endsWith('-open');
  const fill = open ? '#ffffff' : color;
  const style = `fill="${fill}" stroke="${color}" stroke-width="${open ? 1.8 : 1}"`;
  switch (shape.replace('-open', '')) {
    case 'circle':
      return `<circle cx="${r1(x)}" cy="${r1(y)}" r="${s}" ${style}/>`;
    case 'square':
      return `<rect x="${r1(x - s)}" y="${r1(y - s)}" width="${2 * s}" height="${2 * s}" ${style}/>`;
    case 'triangle':
      return `<polygon points="${r1(x)},${r1(y - s * 1.25)} ${r1(x + s * 1.15)},${r1(y + s * 0.85)} ${r1(x - s * 1.15)},${r1(y + s * 0.85)}" ${style}/>`;
    case 'triangle-down':
      return `<polygon points="${r1(x)},${r1(y + s * 1.25)} ${r1(x + s * 1.15)},${r1(y - s * 0.85)} ${r1(x - s * 1.15)},${r1(y - s * 0.85)}" ${style}/>`;
    case 'diamond':
      return `<polygon points="${r1(x)},${r1(y - s * 1.3)} ${r1(x + s * 1.1)},${r1(y)} ${r1(x)},${r1(y + s * 1.3)} ${r1(x - s * 1.1)},${r1(y)}" ${style}/>`;
    default: // cross
      return `<path d="M${r1(x - s)},${r1(y - s)}L${r1(x + s)},${r1(y + s)}M${r1(x - s)},${r1(y + s)}L${r1(x + s)},${r1(y - s)}" stroke="${color}" stroke-width="2.2" fill="none"/>`;
  }
}

/** The plot as an SVG document. */
export function linePlot(spec: PlotSpec): string {
  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p.y));
  const X = axis(xs, spec.logX, PLOT.width, false, spec.xTicks);
  const Y = axis(ys, spec.logY, PLOT.height, true);
  const px = (v: number) => PLOT.left + X.pos(v);
  const py = (v: number) => PLOT.top + Y.pos(v);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT}>`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${PLOT.left}" y="28" font-size="18" font-weight="bold" fill="#222">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${PLOT.left}" y="50" font-size="12.5" fill="#555">${esc(spec.subtitle)}</text>`);

  // Grid and ticks.
  out.push('<g stroke="#ececec" stroke-width="1">');
  for (const v of X.minor) out.push(`<line x1="${r1(px(v))}" x2="${r1(px(v))}" y1="${PLOT.top}" y2="${PLOT.top + PLOT.height}"/>`);
  for (const v of Y.minor) out.push(`<line x1="${PLOT.left}" x2="${PLOT.left + PLOT.width}" y1="${r1(py(v))}" y2="${r1(py(v))}"/>`);
  out.push('</g><g stroke="#cfcfcf" stroke-width="1">');
  for (const v of X.major) out.push(`<line x1="${r1(px(v))}" x2="${r1(px(v))}" y1="${PLOT.top}" y2="${PLOT.top + PLOT.height}"/>`);
  for (const v of Y.major) out.push(`<line x1="${PLOT.left}" x2="${PLOT.left + PLOT.width}" y1="${r1(py(v))}" y2="${r1(py(v))}"/>`);
  out.push('</g>');
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.width}" height="${PLOT.height}" fill="none" stroke="#444" stroke-width="1.2"/>`);
  out.push('<g font-size="12" fill="#333">');
  for (const v of X.major) out.push(`<text x="${r1(px(v))}" y="${PLOT.top + PLOT.height + 18}" text-anchor="middle">${formatTick(v)}</text>`);
  for (const v of Y.major) out.push(`<text x="${PLOT.left - 8}" y="${r1(py(v) + 4)}" text-anchor="end">${formatTick(v)}</text>`);
  out.push('</g>');
  const logNote = (log: boolean) => (log ? ' (log scale)' : '');
  out.push(`<text x="${PLOT.left + PLOT.width / 2}" y="${PLOT.top + PLOT.height + 44}" font-size="13.5" text-anchor="middle" fill="#222">${esc(spec.xLabel + logNote(spec.logX))}</text>`);
  out.push(
    `<text transform="translate(${PLOT.left - 58},${PLOT.top + PLOT.height / 2}) rotate(-90)" font-size="13.5" text-anchor="middle" fill="#222">${esc(spec.yLabel + logNote(spec.logY))}</text>`,
  );

  // Series: identical ones are grouped, drawn dashed in turns, markers side by side.
  const groups = new Map<number, number[]>();
  spec.series.forEach((s, i) => {
    const first = [...groups.keys()].find((g) => sameLine(spec.series[g], s));
    if (first === undefined) groups.set(i, [i]);
    else groups.get(first)!.push(i);
  });
  const groupOf = new Map<number, number[]>();
  for (const members of groups.values()) for (const i of members) groupOf.set(i, members);
  const DASH = 9;
  out.push(`<g clip-path="none">`);
  spec.series.forEach((s, i) => {
    const members = groupOf.get(i)!;
    const k = members.length;
    const rank = members.indexOf(i);
    const points = s.points.filter((p) => Number.isFinite(p.y) && (!spec.logY || p.y > 0)).map((p) => `${r1(px(p.x))},${r1(py(p.y))}`);
    const dash = k > 1 ? ` stroke-dasharray="${DASH} ${DASH * (k - 1)}" stroke-dashoffset="${-rank * DASH}"` : '';
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.2" stroke-linejoin="round"${dash}/>`);
  });
  spec.series.forEach((s, i) => {
    const members = groupOf.get(i)!;
    const k = members.length;
    const shift = (members.indexOf(i) - (k - 1) / 2) * 7;
    for (const p of s.points) {
      if (!Number.isFinite(p.y) || (spec.logY && p.y <= 0)) continue;
      out.push(marker(s.marker, px(p.x) + shift, py(p.y), s.color));
    }
  });
  out.push('</g>');

  // Legend, beside the plot.
  const rowHeight = 22;
  const legendTop = PLOT.top + 6;
  out.push(`<g font-size="12.5" fill="#222">`);
  spec.series.forEach((s, i) => {
    const y = legendTop + i * rowHeight;
    const k = groupOf.get(i)!.length;
    out.push(`<line x1="${LEGEND_X}" x2="${LEGEND_X + 30}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2.2"/>`);
    out.push(marker(s.marker, LEGEND_X + 15, y, s.color));
    out.push(`<text x="${LEGEND_X + 40}" y="${y + 4.5}">${esc(s.label)}${k > 1 ? ' ‡' : ''}</text>`);
  });
  const overlapping = [...groups.values()].filter((m) => m.length > 1);
  let noteY = legendTop + spec.series.length * rowHeight + 10;
  if (overlapping.length) {
    out.push(`<text x="${LEGEND_X}" y="${noteY}" font-size="11.5" fill="#555">‡ equal values (within 5 %): one line, dashed</text>`);
    out.push(`<text x="${LEGEND_X}" y="${noteY + 15}" font-size="11.5" fill="#555">in each colour in turn, markers side by side</text>`);
    noteY += 30;
  }
  out.push('</g>');
  if (spec.note) out.push(`<text x="${PLOT.left}" y="${HEIGHT - 12}" font-size="11.5" fill="#555">${esc(spec.note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
