import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SCENE_LIMITS, SCENE_PROBLEM, checkSceneBinding, pointerSegment } from './scene-binding.js';

const good = () => ({
  title: 'Line',
  parts: {
    'pump-1a': {
      twin: 'pump-1a',
      color: { telemetry: 'vibration', min: 0, max: 10, palette: ['#00FF00', '#ff0000'] },
      labels: ['vibration', 'flow'],
      units: { vibration: 'mm/s' },
    },
    'tank/1~x': { twin: 'tank-1' },
  },
});
const codesAt = (r: ReturnType<typeof checkSceneBinding>) => r.problems.map((p) => `${p.pointer} ${p.code}`);

describe('checkSceneBinding', () => {
  it('accepts a good binding and returns a copy holding only known keys (colours lower-cased)', () => {
    const r = checkSceneBinding(good(), { parts: new Set(['pump-1a', 'tank/1~x']), twinExists: () => true });
    expect(r.problems).toEqual([]);
    expect(r.binding?.parts['pump-1a']?.color?.palette).toEqual(['#00ff00', '#ff0000']);
    expect(r.binding?.parts['tank/1~x']).toEqual({ twin: 'tank-1' });
  });

  it('reports every problem at once, each at its JSON pointer', () => {
    const b = {
      title: '',
      extra: 1,
      parts: {
        'pump-1a': { twin: 'ghost', color: { telemetry: 'v', min: 5, max: 5, palette: ['red', '#000000'] } },
        'no-such-part': { twin: 'pump-1a', labels: 'vibration' },
        'tank/1~x': { twin: 'tank-1', units: { v: 7 }, colour: {} },
      },
    };
    const r = checkSceneBinding(b, {
      parts: new Set(['pump-1a', 'tank/1~x']),
      twinExists: (id) => id !== 'ghost',
    });
    expect(r.binding).toBeUndefined();
    expect(codesAt(r).sort()).toEqual(
      [
        `/extra ${SCENE_PROBLEM.key}`,
        `/title ${SCENE_PROBLEM.type}`,
        `/parts/pump-1a/twin ${SCENE_PROBLEM.twin}`,
        `/parts/pump-1a/color/max ${SCENE_PROBLEM.scale}`,
        `/parts/pump-1a/color/palette/0 ${SCENE_PROBLEM.colour}`,
        `/parts/no-such-part ${SCENE_PROBLEM.part}`,
        `/parts/no-such-part/labels ${SCENE_PROBLEM.type}`,
        `/parts/tank~11~0x/colour ${SCENE_PROBLEM.key}`,
      ].sort(),
    );
  });

  it('refuses __proto__, constructor and prototype keys wherever they are, changing no prototype', () => {
    const text =
      '{"title":"t","__proto__":{"polluted":1},"parts":{"__proto__":{"twin":"x"},"p":{"twin":"x","units":{"constructor":"m"},"__proto__":{}}}}';
    const r = checkSceneBinding(JSON.parse(text));
    expect(codesAt(r).sort()).toEqual(
      [
        `/__proto__ ${SCENE_PROBLEM.forbidden}`,
        `/parts/__proto__ ${SCENE_PROBLEM.forbidden}`,
        `/parts/p/__proto__ ${SCENE_PROBLEM.forbidden}`,
      ].sort(),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('caps parts, labels, palettes and lengths, and quotes markup as data', () => {
    const parts: Record<string, unknown> = {};
    for (let i = 0; i <= SCENE_LIMITS.parts; i++) parts[`p${i}`] = { twin: 't' };
    expect(codesAt(checkSceneBinding({ title: 't', parts }))).toEqual([`/parts ${SCENE_PROBLEM.tooMany}`]);
    const long = checkSceneBinding({
      title: 'x'.repeat(SCENE_LIMITS.titleLength + 1),
      parts: {
        p: {
          twin: 'y'.repeat(SCENE_LIMITS.twinIdLength + 1),
          labels: Array.from({ length: SCENE_LIMITS.labels + 1 }, () => 'v'),
          color: { telemetry: 'v', min: 0, max: 1, palette: Array.from({ length: 9 }, () => '#000000') },
        },
      },
    });
    expect(codesAt(long).sort()).toEqual(
      [
        `/title ${SCENE_PROBLEM.tooMany}`,
        `/parts/p/twin ${SCENE_PROBLEM.tooMany}`,
        `/parts/p/labels ${SCENE_PROBLEM.tooMany}`,
        `/parts/p/color/palette ${SCENE_PROBLEM.tooMany}`,
      ].sort(),
    );
    const markup = '<img src=x onerror=alert(1)>';
    const r = checkSceneBinding({ title: 't', parts: { [markup]: { twin: markup } } }, { parts: new Set() });
    expect(r.problems[0]?.message).toContain(JSON.stringify(markup));
    // A long name is cut in messages: a message never echoes kilobytes.
    const huge = checkSceneBinding(
      { title: 't', parts: { p: { twin: 'z'.repeat(1000) } } },
      { twinExists: () => false },
    );
    expect(huge.problems[0]!.message.length).toBeLessThan(200);
  });

  it('never throws on any JSON value, and accepts what it returns', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const r = checkSceneBinding(v);
        expect(r.binding === undefined).toBe(r.problems.length > 0);
        if (r.binding) expect(checkSceneBinding(JSON.parse(JSON.stringify(r.binding))).problems).toEqual([]);
      }),
    );
  });

  it('writes pointer segments per RFC 6901', () => {
    expect(pointerSegment('a/b~c')).toBe('a~1b~0c');
  });
});
