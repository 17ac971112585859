import { describe, expect, it } from 'vitest';
import { resultCell, resultColumns } from './result-table.js';

describe('query results as a table', () => {
  it('shows whole twins as id, model and properties', () => {
    const rows = [
      {
        $dtId: 'pump-1a',
        $etag: 'x',
        $metadata: { $model: 'dtmi:t:Pump;1' },
        serialNumber: 'P',
        flowSetpoint: 4,
      },
      { $dtId: 'line-1', $etag: 'y', $metadata: { $model: 'dtmi:t:Line;1' } },
    ];
    expect(resultColumns(rows)).toEqual(['$dtId', 'model', 'flowSetpoint', 'serialNumber']);
    expect(resultCell(rows[0]!, 'model')).toBe('Pump');
    expect(resultCell(rows[1]!, 'serialNumber')).toBeUndefined();
    expect(resultCell({ motor: { $metadata: { x: 1 }, ratedPower: 15 } }, 'motor')).toEqual({
      ratedPower: 15,
    });
  });

  it('keeps projections as selected', () => {
    const rows = [{ $dtId: 'a', vibration: 7.5 }, { COUNT: 3 }];
    expect(resultColumns(rows)).toEqual(['$dtId', 'COUNT', 'vibration']);
    expect(resultCell({ toString: 1 } as never, 'valueOf')).toBeUndefined();
  });
});
