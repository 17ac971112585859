/**
 * What the scene page shows, as pure functions (docs/scenes.md): a part's colour from its value on
 * its scale, the rows of the parts list (the same facts the 3D view draws, for keyboard and
 * screen-reader users), the latest values kept from the live stream, and where a validation
 * problem of a binding edit belongs in the editor (by its JSON pointer).
 */
import type { SceneBinding, SceneColourScale } from '../api/types.js';

/** Green (low) to amber to red (high): the server's SCENE_DEFAULT_PALETTE. */
export const DEFAULT_PALETTE: readonly string[] = ['#2e7d32', '#f9a825', '#c62828'];
/** A bound part without a value yet. */
export const NO_VALUE_COLOUR = '#8a8f98';

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * A value's colour on a scale: clamped to [min, max], interpolated between the two nearest palette
 * colours. Not a finite number: undefined.
 *
 * @example colourOnScale(5, { telemetry: 'v', min: 0, max: 10 }) // '#f9a825'
 */
export function colourOnScale(value: unknown, scale: SceneColourScale): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const palette = scale.palette && scale.palette.length >= 2 ? scale.palette : DEFAULT_PALETTE;
  const t = Math.min(1, Math.max(0, (value - scale.min) / (scale.max - scale.min)));
  const x = t * (palette.length - 1);
  const i = Math.min(palette.length - 2, Math.floor(x));
  const f = x - i;
  const a = rgb(palette[i]!);
  const b = rgb(palette[i + 1]!);
  return `#${a
    .map((c, k) =>
      Math.round(c + (b[k]! - c) * f)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

/** Latest values by twin, then telemetry name. */
export type SceneValues = ReadonlyMap<string, ReadonlyMap<string, { value: unknown; time: number }>>;

/** One twin's readings at one time (a telemetry event, or a series' last value). */
export interface SceneReading {
  twinId: string;
  time: number;
  values: Record<string, unknown>;
}

/**
 * The values with a batch of readings merged in (an older reading never replaces a newer one): one
 * copy of the outer map and of each touched twin's map per batch, whatever its size; the same
 * object back when nothing changed (React then skips the render).
 */
export function mergeReadings(values: SceneValues, batch: readonly SceneReading[]): SceneValues {
  let next: Map<string, ReadonlyMap<string, { value: unknown; time: number }>> | undefined;
  const copied = new Map<string, Map<string, { value: unknown; time: number }>>();
  for (const r of batch) {
    for (const [name, value] of Object.entries(r.values)) {
      const old = (copied.get(r.twinId) ?? values.get(r.twinId))?.get(name);
      if (old && old.time > r.time) continue;
      let mine = copied.get(r.twinId);
      if (!mine) {
        mine = new Map(values.get(r.twinId) ?? []);
        copied.set(r.twinId, mine);
        next ??= new Map(values);
        next.set(r.twinId, mine);
      }
      mine.set(name, { value, time: r.time });
    }
  }
  return next ?? values;
}

export interface PartRow {
  part: string;
  twin: string;
  /** The colouring telemetry and its latest value (undefined: none yet). */
  telemetry?: string;
  value?: unknown;
  unit?: string;
  /** The colour the part should have (NO_VALUE_COLOUR without a value; undefined: not coloured). */
  colour?: string;
  /** Label lines: "vibration 4.2 mm/s". */
  labels: string[];
  alarm: boolean;
}

/** A value as a label shows it. */
export function formatValue(v: unknown, unit?: string): string {
  if (v === undefined) return '—';
  const s =
    typeof v === 'number'
      ? Number.isInteger(v)
        ? String(v)
        : v.toFixed(Math.abs(v) < 10 ? 2 : 1)
      : String(v);
  return unit ? `${s} ${unit}` : s;
}

/** One row per bound part, in part-name order. */
export function partRows(
  binding: SceneBinding,
  values: SceneValues,
  alarmed: ReadonlySet<string>,
): PartRow[] {
  return Object.entries(binding.parts)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([part, p]) => {
      const mine = values.get(p.twin);
      const value = p.color ? mine?.get(p.color.telemetry)?.value : undefined;
      const unit = p.color ? p.units?.[p.color.telemetry] : undefined;
      return {
        part,
        twin: p.twin,
        ...(p.color
          ? { telemetry: p.color.telemetry, colour: colourOnScale(value, p.color) ?? NO_VALUE_COLOUR }
          : {}),
        ...(value !== undefined ? { value } : {}),
        ...(unit ? { unit } : {}),
        labels: (p.labels ?? []).map((l) => `${l} ${formatValue(mine?.get(l)?.value, p.units?.[l])}`),
        alarm: alarmed.has(p.twin),
      };
    });
}

/** RFC 6901 segment. */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The editor field a problem's pointer names: `title`, or `<part>` + `twin|telemetry|min|max`
 * (`part:<name>` for problems of the part as a whole); undefined when it belongs to no field.
 */
export function fieldOfPointer(pointer: string | undefined, parts: readonly string[]): string | undefined {
  if (pointer === undefined) return undefined;
  if (pointer === '/title') return 'title';
  for (const part of parts) {
    const base = `/parts/${pointerSegment(part)}`;
    if (pointer === base) return `part:${part}`;
    if (!pointer.startsWith(`${base}/`)) continue;
    const rest = pointer.slice(base.length + 1);
    if (rest === 'twin') return `${part}/twin`;
    if (rest === 'color/telemetry') return `${part}/telemetry`;
    if (rest === 'color/min') return `${part}/min`;
    if (rest === 'color/max') return `${part}/max`;
    return `part:${part}`;
  }
  return undefined;
}
