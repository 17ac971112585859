// The BehaviourParameterStore contract on PostgreSQL, and what only PostgreSQL can get wrong.
import { describe, expect, it } from 'vitest';
import { describeBehaviourParameterStoreContract } from '../../core/ports/behaviour-parameter-store.contract.js';
import {
  PG_BEHAVIOUR_PARAMETER_MIGRATIONS,
  PgBehaviourParameterStore,
} from './pg-behaviour-parameter-store.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';

const open = () =>
  pgStoreFixture([PG_BEHAVIOUR_PARAMETER_MIGRATIONS], (db) => new PgBehaviourParameterStore(db));

describeBehaviourParameterStoreContract('postgres', async () => {
  const fx = await open();
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
});

describe('PgBehaviourParameterStore', () => {
  it('refuses a NUL in a parameter name or id with BadRequest naming the field, storing nothing', async () => {
    const fx = await open();
    try {
      const base = { workspace: 'ws', twinId: 't', behaviour: 'b', appliedAt: 1 };
      await expect(fx.store.put({ ...base, values: { 'k\u0000': 1 } })).rejects.toMatchObject({
        code: 'BadRequest',
        message: expect.stringMatching(/values contains a NUL/) as unknown,
      });
      await expect(fx.store.put({ ...base, twinId: 'a\u0000', values: {} })).rejects.toMatchObject({
        code: 'BadRequest',
        message: expect.stringMatching(/twinId contains a NUL/) as unknown,
      });
      expect(await fx.store.listParameters('ws')).toEqual([]);
      expect(await fx.store.get('ws', 'a\u0000')).toBeUndefined();
      expect(await fx.store.listCalibrations('ws', 'a\u0000')).toEqual([]);
      await fx.store.deleteTwin('ws', 'a\u0000'); // nothing to do, no error
    } finally {
      await fx.cleanup();
    }
  });

  it('stores values as jsonb, numbers exact to the last bit', async () => {
    const fx = await open();
    try {
      const values = {
        a: 0.1 + 0.2,
        b: 5e-324,
        c: 1.7976931348623157e308,
        d: -123456789.12345679,
        e: 2 ** 53 + 2,
      };
      await fx.store.put({ workspace: 'ws', twinId: 't', behaviour: 'b', values, appliedAt: 1 });
      const type = await fx.db.query<{ t: string }>(
        'SELECT jsonb_typeof(vals) AS t FROM behaviour_parameters',
      );
      expect(type.rows).toEqual([{ t: 'object' }]);
      const got = (await fx.store.get('ws', 't'))!.values;
      for (const [k, v] of Object.entries(values)) expect(Object.is(got[k], v), k).toBe(true);
    } finally {
      await fx.cleanup();
    }
  });
});
