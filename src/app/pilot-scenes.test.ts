/**
 * A pilot's scene files: the shipped ones are exactly what the generator makes (no drift), and the
 * reader refuses broken, oversized or hostile files naming the file and what is wrong.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePilotDir } from './pilot-files.js';
import {
  MAX_SCENE_BINDING_BYTES,
  formatSceneJson,
  generatePilotScene,
  readPilotScenes,
  sceneFiles,
} from './pilot-scenes.js';

const temps: string[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});
/** A copy of a shipped pilot in a temp folder, to break its files. */
function copyPilot(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinloop-scene-'));
  temps.push(dir);
  const to = path.join(dir, name);
  cpSync(resolvePilotDir(name), to, { recursive: true });
  return to;
}

describe('pilot scenes', () => {
  it.each(['pump-line', 'ev-fleet'])(
    'ships %s/scene as the generator makes it (run `twinloop scene generate` after changing the pilot)',
    (pilot) => {
      const scene = generatePilotScene(pilot);
      for (const [name, bytes] of sceneFiles(scene)) {
        const shipped = readFileSync(path.join(resolvePilotDir(pilot), 'scene', name));
        expect(Buffer.from(bytes).equals(shipped), `${pilot}/scene/${name} is out of date`).toBe(true);
      }
    },
  );

  it('binds every twin with telemetry, coloured on a scale, and reads back what it wrote', () => {
    const [scene] = readPilotScenes('pump-line');
    expect(scene!.id).toBe('pump-line');
    const parts = scene!.binding.parts;
    expect(Object.keys(parts).sort()).toEqual(
      [
        'pump-1a',
        'pump-1b',
        'pump-1c',
        'pump-3a',
        'pump-3b',
        'pump-3c',
        'pump-3d',
        'tank-1',
        'tank-3',
      ].sort(),
    );
    expect(parts['pump-3a']).toMatchObject({
      twin: 'pump-3a',
      color: { telemetry: 'vibration', min: 0, max: 10 },
    });
    expect(parts['tank-1']?.color?.telemetry).toBe('level');
    expect(scene!.parts).toContain('link:tank-1/feeds/pump-1a');
    const [ev] = readPilotScenes('ev-fleet');
    const vehicles = Object.values(ev!.binding.parts).filter((p) => p.color?.telemetry === 'stateOfCharge');
    expect(vehicles.length).toBe(8);
  });

  it('formats JSON the way prettier does (arrays of plain values on one line)', () => {
    expect(formatSceneJson({ a: [1, 2], b: { c: ['x', 'y'] }, d: [{ e: 1 }] })).toBe(
      '{\n  "a": [1, 2],\n  "b": {\n    "c": ["x", "y"]\n  },\n  "d": [\n    {\n      "e": 1\n    }\n  ]\n}\n',
    );
  });

  it('refuses a model that is not GLB, naming the file', () => {
    const dir = copyPilot('pump-line');
    writeFileSync(path.join(dir, 'scene/pump-line.glb'), '{"asset":{"version":"2.0"}}');
    expect(() => readPilotScenes(dir)).toThrow(/pump-line\.glb: Not a GLB file/);
  });

  it('refuses a binding naming parts the model lacks, a __proto__ key or bad JSON, at their pointers', () => {
    const dir = copyPilot('pump-line');
    const file = path.join(dir, 'scene/pump-line.binding.json');
    const b = JSON.parse(readFileSync(file, 'utf8')) as { parts: Record<string, unknown> };
    b.parts['<script>x</script>'] = { twin: 'pump-1a' };
    writeFileSync(file, JSON.stringify(b));
    expect(() => readPilotScenes(dir)).toThrow(/#\/parts\/<script>x<~1script>: The scene has no part named/);
    writeFileSync(file, '{"title":"t","parts":{"__proto__":{"twin":"x"}}}');
    expect(() => readPilotScenes(dir)).toThrow(/__proto__/);
    writeFileSync(file, Buffer.from([0x7b, 0xff, 0x7d]));
    expect(() => readPilotScenes(dir)).toThrow(/not valid JSON/);
    writeFileSync(file, '['.repeat(5000) + ']'.repeat(5000));
    expect(() => readPilotScenes(dir)).toThrow(/not valid JSON/);
  });

  it('refuses an oversized binding without reading it, and a model without a binding', () => {
    const dir = copyPilot('pump-line');
    const file = path.join(dir, 'scene/pump-line.binding.json');
    truncateSync(file, MAX_SCENE_BINDING_BYTES + 1);
    expect(() => readPilotScenes(dir)).toThrow(/at most 1048576/);
    rmSync(file);
    expect(() => readPilotScenes(dir)).toThrow(/no binding/);
  });

  it('refuses a scene file name that is not an id', () => {
    const dir = copyPilot('pump-line');
    cpSync(path.join(dir, 'scene/pump-line.glb'), path.join(dir, 'scene/Bad Name.glb'));
    expect(() => readPilotScenes(dir)).toThrow(/scene id/);
  });
});
