import { describe, it, expect } from 'vitest';
import { parseSubscription, eventKind, isMergeable } from './live-filters.js';
import { TwinloopError } from '../errors/errors.js';

const opts = { defaultWorkspace: 'default', maxTwinIds: 3, maxQueryLength: 100 };

function problemsOf(msg: Record<string, unknown>): { pointer?: string; message: string }[] {
  try {
    parseSubscription(msg, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    expect((e as TwinloopError).code).toBe('BadRequest');
    return [...(e as TwinloopError).problems];
  }
  throw new Error('expected a TwinloopError');
}

describe('parseSubscription', () => {
  it('accepts twin ids, de-duplicated, with every type by default', () => {
    const s = parseSubscription({ op: 'subscribe', id: 's1', twinIds: ['a', 'b', 'a'] }, opts);
    expect(s.filter).toEqual({ kind: 'twinIds', twinIds: ['a', 'b'] });
    expect(s.workspace).toBe('default');
    expect([...s.types].sort()).toEqual(['lifecycle', 'propertyChange', 'telemetry']);
  });

  it('accepts a model with exact and a workspace and types', () => {
    const s = parseSubscription(
      { id: 'm', model: 'dtmi:com:example:Pump;1', exact: true, workspace: 'plant', types: ['telemetry'] },
      opts,
    );
    expect(s.filter).toEqual({ kind: 'model', model: 'dtmi:com:example:Pump;1', exact: true });
    expect(s.workspace).toBe('plant');
    expect([...s.types]).toEqual(['telemetry']);
  });

  it('accepts a query', () => {
    const s = parseSubscription({ id: 'q', query: 'SELECT T FROM DIGITALTWINS T WHERE T.x > 1' }, opts);
    expect(s.filter.kind).toBe('query');
  });

  it('reports every problem at once with pointers', () => {
    const p = problemsOf({ id: '', twinIds: ['ok', 5, ''], types: ['telemetry', 'bogus'] });
    expect(p.map((x) => x.pointer).sort()).toEqual(['/id', '/twinIds/1', '/twinIds/2', '/types/1']);
  });

  it('requires exactly one filter', () => {
    expect(problemsOf({ id: 'x' })[0]!.message).toMatch(/exactly one of/);
    expect(problemsOf({ id: 'x', model: 'dtmi:a:b;1', query: 'SELECT' })[0]!.message).toMatch(/model, query/);
  });

  it('rejects a bad DTMI, too many ids and a too-long query', () => {
    expect(problemsOf({ id: 'x', model: 'pump' })[0]!.pointer).toBe('/model');
    expect(problemsOf({ id: 'x', twinIds: ['a', 'b', 'c', 'd'] })[0]!.message).toMatch(/at most 3/);
    expect(problemsOf({ id: 'x', query: 'S'.repeat(101) })[0]!.message).toMatch(/at most 100/);
  });

  it('classifies event kinds', () => {
    const base = { workspace: 'w', twinId: 't', modelId: 'dtmi:a:b;1', time: 1 };
    expect(eventKind({ ...base, type: 'telemetry', values: {} })).toBe('telemetry');
    expect(eventKind({ ...base, type: 'propertyChange', patch: [] })).toBe('propertyChange');
    expect(eventKind({ ...base, type: 'twinDeleted' })).toBe('lifecycle');
    expect(isMergeable({ ...base, type: 'twinCreated' })).toBe(false);
    expect(isMergeable({ ...base, type: 'telemetry', values: {} })).toBe(true);
  });
});
