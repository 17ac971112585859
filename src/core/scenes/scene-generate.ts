/**
 * A scene generated from a twin graph (docs/scenes.md): the layout (scene-layout.ts), its GLB
 * (scene-gltf.ts) and a first binding, each part bound to its twin, coloured by the telemetry its
 * model names first among COLOUR_HINTS (a scale fit for that quantity), labelled with that value and its unit (or
 * the model's first numeric telemetry when none is hinted). A user edits the binding afterwards (in the app or
 * the file). Pure and deterministic.
 *
 * @example
 * const scene = generateScene({ title: 'pump-line', twins, relationships, telemetryOf: (m) => models.telemetry(m) });
 * writeFileSync('pump-line.glb', scene.glb);
 */
import type { SceneBinding, ScenePartBinding } from './scene-binding.js';
import { sceneToGlb } from './scene-gltf.js';
import {
  layoutScene,
  type SceneGraphInput,
  type SceneLayout,
  type SceneLayoutOptions,
} from './scene-layout.js';

export interface TelemetryInfo {
  name: string;
  /** The DTDL unit (e.g. degreeCelsius), when the model gives one. */
  unit?: string;
  /** Numeric telemetry only can colour a part. */
  numeric: boolean;
}

/** Scales for quantities the pilots measure, in the order a part's colour prefers them. */
export const COLOUR_HINTS: readonly {
  telemetry: string;
  min: number;
  max: number;
  palette?: string[];
  unit?: string;
}[] = [
  { telemetry: 'vibration', min: 0, max: 10, unit: 'mm/s' },
  { telemetry: 'stateOfCharge', min: 0, max: 100, palette: ['#c62828', '#f9a825', '#2e7d32'], unit: '%' },
  { telemetry: 'level', min: 0, max: 5 },
  { telemetry: 'power', min: 0, max: 150 },
  { telemetry: 'temperature', min: 0, max: 100 },
  {
    telemetry: 'averageStateOfCharge',
    min: 0,
    max: 100,
    palette: ['#c62828', '#f9a825', '#2e7d32'],
    unit: '%',
  },
];

/** Symbols for DTDL units (what a label shows). */
const UNIT_SYMBOLS: Record<string, string> = {
  degreeCelsius: '°C',
  cubicMetrePerHour: 'm³/h',
  bar: 'bar',
  metre: 'm',
  ampere: 'A',
  volt: 'V',
  kilowatt: 'kW',
  kilowattHour: 'kWh',
  kilometrePerHour: 'km/h',
  kilometre: 'km',
  percent: '%',
};

export interface GeneratedScene {
  layout: SceneLayout;
  glb: Uint8Array;
  binding: SceneBinding;
}

export function generateScene(
  input: SceneGraphInput & {
    title: string;
    telemetryOf: (modelId: string) => readonly TelemetryInfo[];
    layout?: SceneLayoutOptions;
  },
): GeneratedScene {
  const layout = layoutScene(input, input.layout);
  const parts: Record<string, ScenePartBinding> = {};
  for (const n of layout.nodes) {
    if (n.twin === undefined || n.modelId === undefined) continue;
    const tel = input.telemetryOf(n.modelId).filter((t) => t.numeric);
    if (tel.length === 0) continue;
    const names = new Set(tel.map((t) => t.name));
    const hint = COLOUR_HINTS.find((h) => names.has(h.telemetry));
    const labels = [
      ...(hint ? [hint.telemetry] : []),
      ...tel.map((t) => t.name).filter((t) => t !== hint?.telemetry),
    ].slice(0, 1);
    const units: Record<string, string> = {};
    for (const l of labels) {
      const t = tel.find((x) => x.name === l);
      const u = (t?.unit && UNIT_SYMBOLS[t.unit]) ?? (hint?.telemetry === l ? hint.unit : undefined);
      if (u) units[l] = u;
    }
    parts[n.name] = {
      twin: n.twin,
      ...(hint
        ? {
            color: {
              telemetry: hint.telemetry,
              min: hint.min,
              max: hint.max,
              ...(hint.palette ? { palette: [...hint.palette] } : {}),
            },
          }
        : {}),
      labels,
      ...(Object.keys(units).length ? { units } : {}),
    };
  }
  return { layout, glb: sceneToGlb(layout, { title: input.title }), binding: { title: input.title, parts } };
}
