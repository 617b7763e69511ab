// Time-series charts: uPlot (vendor/uPlot, loaded by index.html as a classic script).
import { human } from "./format.js";

const uPlot = globalThis.uPlot;

export const palette = ["#2d7fb8", "#d9822b", "#27ae60", "#8e44ad", "#c0392b", "#7f8c8d"];

/**
 * A live chart of a few series against time (seconds). `unit` is "bytes" or
 * "percent" or "" (plain numbers); `xUnit` "bytes" for an axis of bytes instead
 * of time. push(x, [v…]) adds a point and redraws; set(columns) draws a whole series.
 */
export function liveChart(container, { title, series, unit = "", xUnit = "", width = 540, height = 220, keep = 300, xLabel = null, time = true }) {
  const data = [[], ...series.map(() => [])];
  const format = unit === "bytes" ? (v) => human(v) : unit === "percent" ? (v) => `${v}%` : (v) => String(v);
  const options = {
    title, width, height,
    // Time axes span at least a minute, so the first samples do not stretch over sub-second ticks; the
    // span comes from the samples themselves, since uPlot 1.6.32 pads a single time point by 86400 / ms
    // (86,400,000 s, years, with timestamps in seconds) before it asks this range.
    scales: { x: time ? { time, range: (u, min, max) => lastMinute(u.data[0], min, max) } : { time } },
    series: [
      { label: xLabel || "time" },
      ...series.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 1.5,
        value: (u, v) => (v === null || v === undefined ? "–" : format(v)) })),
    ],
    axes: [
      xUnit === "bytes" ? { label: xLabel, values: (u, values) => values.map(human) } : { label: xLabel },
      { size: 70, values: (u, values) => values.map(format) },
    ],
    // The x axis's span, in the container's data-x-span (the lab's tests read it).
    hooks: { setScale: [(u, key) => { if (key === "x") container.dataset.xSpan = u.scales.x.max - u.scales.x.min; }] },
  };
  const plot = new uPlot(options, data, container);
  return {
    plot,
    push(x, values) {
      data[0].push(x);
      values.forEach((v, i) => data[i + 1].push(v));
      if (data[0].length > keep) for (const column of data) column.shift();
      plot.setData(data);
    },
    set(columns) {
      columns.forEach((column, i) => { data[i] = column; });
      plot.setData(data);
    },
    get points() { return data[0].length; },
    destroy() { plot.destroy(); },
  };
}

/** From the first sample to the last, and at least the minute before the last. */
function lastMinute(xs, min, max) {
  if (!xs || xs.length === 0) return [min, max];
  const first = xs[0];
  const last = xs[xs.length - 1];
  return [Math.min(first, last - 60), last];
}
