// Stacked bar and line charts of time series with uPlot. uPlot draws series over each
// other, so a stack is drawn as cumulative sums, the top one first.
import uPlot from 'uplot';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

function width(el: HTMLElement): number {
  return Math.max(260, Math.floor(el.getBoundingClientRect().width || el.parentElement?.getBoundingClientRect().width || 320));
}

function observeWidth(el: HTMLElement, plot: uPlot, height: number): () => void {
  const ro = new ResizeObserver(() => plot.setSize({ width: width(el), height }));
  ro.observe(el);
  return () => { ro.disconnect(); plot.destroy(); };
}

/** Bars stacked per x (epoch seconds); `unit` labels the y axis. Returns a disposer. */
export function stackedBars(el: HTMLElement, xs: number[], series: Series[], unit: string, height = 240): () => void {
  const sums: number[][] = [];
  let acc = xs.map(() => 0);
  for (const s of series) {
    acc = acc.map((a, i) => a + (s.values[i] ?? 0));
    sums.push(acc.slice());
  }
  const bars = uPlot.paths.bars!({ size: [0.7, 64] });
  // Drawn top of the stack first so each lower band paints over the one above it.
  const order = series.map((_, i) => i).reverse();
  const plot = new uPlot({
    width: width(el),
    height,
    legend: { show: false },
    cursor: { points: { show: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
    axes: [{}, { label: unit, size: 60 }],
    series: [{}, ...order.map((i) => ({ label: series[i].label, fill: series[i].color, stroke: series[i].color, width: 0, paths: bars, points: { show: false } }))],
  }, [xs, ...order.map((i) => sums[i])] as uPlot.AlignedData, el);
  return observeWidth(el, plot, height);
}

/** Lines (or steps) over time; `unit` labels the y axis. Returns a disposer. */
export function lines(el: HTMLElement, xs: number[], series: Series[], unit: string, opts: { steps?: boolean; height?: number } = {}): () => void {
  const height = opts.height ?? 220;
  const paths = opts.steps ? uPlot.paths.stepped!({ align: 1 }) : undefined;
  const plot = new uPlot({
    width: width(el),
    height,
    legend: { show: false },
    scales: { x: { time: true } },
    axes: [{}, { label: unit, size: 60 }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, paths, points: { show: false } }))],
  }, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
  return observeWidth(el, plot, height);
}
