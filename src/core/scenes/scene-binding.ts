/**
 * A scene's binding (docs/scenes.md): which part of a glTF scene shows which twin, the telemetry
 * that colours it on a scale, and the telemetry its label shows. The binding is data a user edits
 * in the web app, so it is checked like any input from outside: every problem at once, each with
 * its JSON pointer; unknown keys, forbidden keys (`__proto__`…) and oversized documents refused.
 * Pure: no I/O.
 *
 * @example
 * const { binding, problems } = checkSceneBinding(json, { parts: new Set(['pump-1a']) });
 * if (problems.length) throw errors.validation('ValidationFailed', 'The scene binding is invalid.', problems);
 */
import type { Problem } from '../errors/errors.js';
import { FORBIDDEN_KEYS } from '../json/untrusted-json.js';

/** How a part is coloured: its value of `telemetry` placed on [min, max] and read off the palette. */
export interface SceneColourScale {
  telemetry: string;
  min: number;
  max: number;
  /** Colours `#rrggbb` from min to max (2 to 8; default SCENE_DEFAULT_PALETTE). */
  palette?: string[];
}

/** One part of the scene bound to a twin. */
export interface ScenePartBinding {
  twin: string;
  color?: SceneColourScale;
  /** Telemetry names whose live values the part's label shows. */
  labels?: string[];
  /** Units to show after values, by telemetry name. */
  units?: Record<string, string>;
}

export interface SceneBinding {
  title: string;
  /** Part (glTF node) name → what it shows. */
  parts: Record<string, ScenePartBinding>;
}

/** Problem codes of scene bindings (docs/errors.md). */
export const SCENE_PROBLEM = {
  type: 'scene.type',
  key: 'scene.key.unknown',
  forbidden: 'scene.key.forbidden',
  required: 'scene.required',
  tooMany: 'scene.limit',
  part: 'scene.part.unknown',
  twin: 'scene.twin.unknown',
  scale: 'scene.scale.invalid',
  colour: 'scene.colour.invalid',
} as const;

export const SCENE_LIMITS = {
  parts: 2000,
  labels: 8,
  palette: 8,
  units: 16,
  nameLength: 256,
  twinIdLength: 1024,
  titleLength: 200,
  unitLength: 32,
} as const;

/** Green (low) to amber to red (high). */
export const SCENE_DEFAULT_PALETTE: readonly string[] = ['#2e7d32', '#f9a825', '#c62828'];

export interface SceneBindingCheckOptions {
  /** The scene's part names: a binding naming another part is refused. */
  parts?: ReadonlySet<string>;
  /** Whether a twin exists: a binding naming another twin is refused. */
  twinExists?: (id: string) => boolean;
  /** Problem `source` (e.g. a file path, "request body"). */
  source?: string;
}

/** RFC 6901 pointer segment. */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

const HEX = /^#[0-9a-fA-F]{6}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A name shown in a message: cut, control characters made visible. */
function shown(s: string): string {
  const cut = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  return JSON.stringify(cut);
}

/**
 * Checks a binding document; `binding` is set only when there are no problems (then it is a fresh
 * object holding only the known keys).
 */
export function checkSceneBinding(
  value: unknown,
  options: SceneBindingCheckOptions = {},
): { binding?: SceneBinding; problems: Problem[] } {
  const problems: Problem[] = [];
  const add = (pointer: string, code: string, message: string) => {
    problems.push({ code, message, pointer, ...(options.source ? { source: options.source } : {}) });
  };
  const keys = (obj: Record<string, unknown>, at: string, allowed: readonly string[]): boolean => {
    let ok = true;
    for (const k of Object.keys(obj)) {
      if (FORBIDDEN_KEYS.has(k)) {
        add(`${at}/${pointerSegment(k)}`, SCENE_PROBLEM.forbidden, `The key ${shown(k)} is not allowed.`);
        ok = false;
      } else if (!allowed.includes(k)) {
        add(
          `${at}/${pointerSegment(k)}`,
          SCENE_PROBLEM.key,
          `Unknown key ${shown(k)} (allowed: ${allowed.join(', ')}).`,
        );
        ok = false;
      }
    }
    return ok;
  };
  const str = (v: unknown, at: string, what: string, max: number): string | undefined => {
    if (typeof v !== 'string' || v.length === 0) {
      add(at, SCENE_PROBLEM.type, `${what} must be a non-empty string.`);
      return undefined;
    }
    if (v.length > max) {
      add(at, SCENE_PROBLEM.tooMany, `${what} is ${v.length} characters long; at most ${max}.`);
      return undefined;
    }
    return v;
  };

  if (!isRecord(value)) {
    add('', SCENE_PROBLEM.type, 'A scene binding must be a JSON object { title, parts }.');
    return { problems };
  }
  keys(value, '', ['title', 'parts']);
  const title = str(value.title, '/title', 'title', SCENE_LIMITS.titleLength);
  const parts: Record<string, ScenePartBinding> = Object.create(null) as Record<string, ScenePartBinding>;
  if (!isRecord(value.parts)) {
    add(
      '/parts',
      value.parts === undefined ? SCENE_PROBLEM.required : SCENE_PROBLEM.type,
      'parts must be an object: part name → { twin, color?, labels?, units? }.',
    );
  } else {
    const names = Object.keys(value.parts);
    if (names.length > SCENE_LIMITS.parts) {
      add('/parts', SCENE_PROBLEM.tooMany, `${names.length} parts; at most ${SCENE_LIMITS.parts}.`);
    } else {
      for (const name of names) {
        const at = `/parts/${pointerSegment(name)}`;
        if (FORBIDDEN_KEYS.has(name)) {
          add(at, SCENE_PROBLEM.forbidden, `The part name ${shown(name)} is not allowed.`);
          continue;
        }
        if (name.length > SCENE_LIMITS.nameLength) {
          add(
            at,
            SCENE_PROBLEM.tooMany,
            `A part name is ${name.length} characters long; at most ${SCENE_LIMITS.nameLength}.`,
          );
          continue;
        }
        if (options.parts && !options.parts.has(name))
          add(at, SCENE_PROBLEM.part, `The scene has no part named ${shown(name)}.`);
        const part = checkPart(value.parts[name], at);
        if (part) parts[name] = part;
      }
    }
  }
  if (problems.length || title === undefined) return { problems };
  return { binding: { title, parts: { ...parts } }, problems };

  function checkPart(v: unknown, at: string): ScenePartBinding | undefined {
    if (!isRecord(v)) {
      add(at, SCENE_PROBLEM.type, 'A part binding must be an object { twin, color?, labels?, units? }.');
      return undefined;
    }
    if (!keys(v, at, ['twin', 'color', 'labels', 'units'])) return undefined;
    const twin = str(v.twin, `${at}/twin`, 'twin', SCENE_LIMITS.twinIdLength);
    if (twin !== undefined && options.twinExists && !options.twinExists(twin))
      add(`${at}/twin`, SCENE_PROBLEM.twin, `There is no twin ${shown(twin)}.`);
    const out: ScenePartBinding = { twin: twin ?? '' };
    if (v.color !== undefined) {
      const c = checkScale(v.color, `${at}/color`);
      if (c) out.color = c;
    }
    if (v.labels !== undefined) {
      if (!Array.isArray(v.labels))
        add(`${at}/labels`, SCENE_PROBLEM.type, 'labels must be an array of telemetry names.');
      else if (v.labels.length > SCENE_LIMITS.labels)
        add(
          `${at}/labels`,
          SCENE_PROBLEM.tooMany,
          `${v.labels.length} labels; at most ${SCENE_LIMITS.labels}.`,
        );
      else {
        const labels = v.labels.map((l, i) =>
          str(l, `${at}/labels/${i}`, 'A label', SCENE_LIMITS.nameLength),
        );
        if (labels.every((l) => l !== undefined)) out.labels = labels as string[];
      }
    }
    if (v.units !== undefined) {
      if (!isRecord(v.units))
        add(`${at}/units`, SCENE_PROBLEM.type, 'units must be an object: telemetry name → unit.');
      else {
        const names = Object.keys(v.units);
        if (names.length > SCENE_LIMITS.units)
          add(`${at}/units`, SCENE_PROBLEM.tooMany, `${names.length} units; at most ${SCENE_LIMITS.units}.`);
        else {
          const units: Record<string, string> = {};
          for (const n of names) {
            const uat = `${at}/units/${pointerSegment(n)}`;
            if (FORBIDDEN_KEYS.has(n)) {
              add(uat, SCENE_PROBLEM.forbidden, `The key ${shown(n)} is not allowed.`);
              continue;
            }
            const u = str(v.units[n], uat, 'A unit', SCENE_LIMITS.unitLength);
            if (u !== undefined)
              Object.defineProperty(units, n, {
                value: u,
                enumerable: true,
                writable: true,
                configurable: true,
              });
          }
          out.units = units;
        }
      }
    }
    return out;
  }

  function checkScale(v: unknown, at: string): SceneColourScale | undefined {
    if (!isRecord(v)) {
      add(at, SCENE_PROBLEM.type, 'color must be an object { telemetry, min, max, palette? }.');
      return undefined;
    }
    if (!keys(v, at, ['telemetry', 'min', 'max', 'palette'])) return undefined;
    const telemetry = str(v.telemetry, `${at}/telemetry`, 'color.telemetry', SCENE_LIMITS.nameLength);
    const num = (x: unknown, p: string, what: string) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        add(p, SCENE_PROBLEM.type, `${what} must be a finite number.`);
        return undefined;
      }
      return x;
    };
    const min = num(v.min, `${at}/min`, 'color.min');
    const max = num(v.max, `${at}/max`, 'color.max');
    if (min !== undefined && max !== undefined && !(min < max))
      add(`${at}/max`, SCENE_PROBLEM.scale, `color.max (${max}) must be above color.min (${min}).`);
    let palette: string[] | undefined;
    if (v.palette !== undefined) {
      if (!Array.isArray(v.palette))
        add(`${at}/palette`, SCENE_PROBLEM.type, 'color.palette must be an array of #rrggbb colours.');
      else if (v.palette.length < 2 || v.palette.length > SCENE_LIMITS.palette)
        add(
          `${at}/palette`,
          SCENE_PROBLEM.tooMany,
          `color.palette needs 2 to ${SCENE_LIMITS.palette} colours; it has ${v.palette.length}.`,
        );
      else {
        palette = [];
        v.palette.forEach((c, i) => {
          if (typeof c !== 'string' || !HEX.test(c))
            add(`${at}/palette/${i}`, SCENE_PROBLEM.colour, `A colour must be written #rrggbb.`);
          else palette!.push(c.toLowerCase());
        });
      }
    }
    if (telemetry === undefined || min === undefined || max === undefined) return undefined;
    return { telemetry, min, max, ...(palette ? { palette } : {}) };
  }
}
