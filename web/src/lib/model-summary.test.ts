import { describe, expect, it } from 'vitest';
import { contentsSummary } from './model-summary.js';

describe('a model in the list', () => {
  it('says what it holds, by kind, in words', () => {
    expect(
      contentsSummary({
        contents: [
          { '@type': 'Telemetry', name: 'a' },
          { '@type': ['Telemetry', 'Temperature'], name: 'b' },
          { '@type': 'Property', name: 'c' },
          { '@type': 'Relationship', name: 'd' },
          { '@type': 'Component', name: 'e' },
          { '@type': 'Command', name: 'f' },
          { '@type': 'Command', name: 'g' },
        ],
      }),
    ).toBe('2 telemetry, 1 property, 1 relationship, 1 component, 2 commands');
    expect(contentsSummary(undefined)).toBe('nothing');
    expect(contentsSummary({ contents: [{ name: 'x' }] })).toBe('1 ?');
  });
});
