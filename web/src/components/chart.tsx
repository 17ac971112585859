/**
 * One time-series chart (uPlot): a line, drawn again when its data changes (uPlot's setData, no new
 * chart), sized to its box. Dragging across it selects a time range: `onZoom` gets it (the page then
 * reads that range from the history route at a finer bucket width).
 *
 * A chart redraws when `dataKey` changes (the series' version: the arrays may be the same ones,
 * appended to) and only while it is on screen or near it: a page of 50 live charts draws the few in
 * view, and a chart scrolled into view draws its latest data then.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * A line drawn over the series on the same times: the shadow model's prediction (dashed, muted), a
 * forecast or a simulated run (dashed, accent), a forecast's 95 % interval (`lower` and `upper`: a
 * shaded band between them), a limit (thin, in the alarm colour).
 */
export interface ChartOverlay {
  label: string;
  ys: readonly (number | null)[];
  kind: 'predicted' | 'forecast' | 'lower' | 'upper' | 'limit';
}

function data(p: {
  xs: readonly number[];
  ys: readonly (number | null)[];
  overlays?: readonly ChartOverlay[] | undefined;
}): uPlot.AlignedData {
  const xs = p.xs.map((x) => x / 1000);
  return [xs, [...p.ys], ...(p.overlays ?? []).map((o) => [...o.ys])];
}

/** A colour with an alpha, from a #rrggbb CSS colour (the band's fill). */
function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) return `rgba(20, 86, 184, ${alpha})`;
  const n = parseInt(m[1]!, 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** The shaded band between a forecast's upper and lower lines (uPlot series indexes: 0 is time, 1 the series). */
function bandsOf(overlays: readonly ChartOverlay[] | undefined, fill: string): uPlot.Band[] {
  const upper = overlays?.findIndex((o) => o.kind === 'upper') ?? -1;
  const lower = overlays?.findIndex((o) => o.kind === 'lower') ?? -1;
  return upper >= 0 && lower >= 0 ? [{ series: [upper + 2, lower + 2], fill }] : [];
}

/** True when a series has few values, or values standing alone between gaps (drawn as dots). */
export function sparse(ys: readonly (number | null | undefined)[]): boolean {
  let values = 0;
  for (const y of ys) if (y !== null && y !== undefined) values++;
  return values > 0 && values < 60;
}

export function Chart(props: {
  label: string;
  xs: readonly number[];
  ys: readonly (number | null)[];
  /** Lines over the series on the same times (prediction, forecast and its interval). */
  overlays?: readonly ChartOverlay[] | undefined;
  /** Re-read the colours (the theme changed). */
  theme: string;
  onZoom?: (fromMs: number, toMs: number) => void;
  height?: number;
  /** Changes when the data does (default: the arrays' identity). */
  dataKey?: string | number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const zoom = useRef(props.onZoom);
  zoom.current = props.onZoom;
  const latest = useRef(props);
  latest.current = props;
  const visible = useRef(true);
  const stale = useRef(false);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const stroke = cssVar('--accent', '#1456b8');
    const axis = cssVar('--muted', '#5a6474');
    const grid = cssVar('--grid', '#e3e7ee');
    const bad = cssVar('--bad', '#b3261e');
    const axisStyle = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 180,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true } },
      axes: [axisStyle, { ...axisStyle, size: 56 }],
      series: [
        {},
        {
          label: props.label,
          stroke,
          width: 1.5,
          spanGaps: false,
          // Dots where the line alone would not show: few points, or points between gaps.
          points: { show: (u: uPlot) => sparse(u.data[1] as (number | null)[]), size: 4, fill: stroke },
          ...(props.overlays?.length ? { spanGaps: true } : {}),
        },
        ...(props.overlays ?? []).map((o) => ({
          label: o.label,
          stroke:
            o.kind === 'predicted'
              ? axis
              : o.kind === 'forecast'
                ? stroke
                : o.kind === 'limit'
                  ? bad
                  : withAlpha(stroke, 0.45),
          width: o.kind === 'lower' || o.kind === 'upper' || o.kind === 'limit' ? 1 : 1.4,
          ...(o.kind === 'predicted' || o.kind === 'forecast' ? { dash: [5, 4] } : {}),
          spanGaps: true,
          points: { show: false },
        })),
      ],
      bands: bandsOf(props.overlays, withAlpha(stroke, 0.15)),
      hooks: {
        // What was drawn, when: the element says so (tests and bench:web read it; a few attribute writes).
        draw: [
          (u) => {
            const xs = u.data[0];
            el.dataset.drawnAt = String(performance.now());
            el.dataset.points = String(xs.length);
            el.dataset.drawnSeries = String(u.series.length - 1);
            el.dataset.drawnSpanS = String(xs.length > 1 ? xs[xs.length - 1]! - xs[0]! : 0);
          },
        ],
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const from = u.posToVal(u.select.left, 'x');
            const to = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom.current?.(from * 1000, to * 1000);
          },
        ],
      },
    };
    const u = new uPlot(opts, data(props), el);
    plot.current = u;
    const ro = new ResizeObserver(() =>
      u.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 180 }),
    );
    ro.observe(el);
    const io = new IntersectionObserver(
      (entries) => {
        visible.current = entries.some((e) => e.isIntersecting);
        if (visible.current && stale.current) {
          stale.current = false;
          u.setData(data(latest.current));
        }
      },
      { rootMargin: '200px 0px' },
    );
    io.observe(el);
    return () => {
      io.disconnect();
      ro.disconnect();
      u.destroy();
      plot.current = undefined;
    };
    // A new chart only for a new series or theme; data changes go through setData below.
  }, [props.label, props.theme, props.height, (props.overlays ?? []).map((o) => o.kind).join()]);

  useEffect(() => {
    if (!plot.current) return;
    if (!visible.current) {
      stale.current = true;
      return;
    }
    plot.current.setData(data(props));
  }, [props.dataKey ?? props.xs, props.ys, props.overlays]);

  return <div ref={box} className="chart" role="img" aria-label={`Chart of ${props.label}`} />;
}
