/**
 * Checks of the runner itself (`--self-test`): one with a deliberately wrong expectation that must
 * fail, and its correct twin that must pass, so a runner that reports everything as passing (or
 * everything as failing) is caught by conformance-adt.int.test.ts.
 */
import type { Check } from './harness.js';
import { expectError, expectStatus, expectTrue, p } from './harness.js';
import { cloudEvents } from './checks-event-delivery.js';

export const SELF_TEST_WRONG = 'self-test: a missing twin answers 200 (deliberately wrong, must fail)';
export const SELF_TEST_RIGHT = 'self-test: a missing twin does not answer 200 (must pass)';
export const SELF_TEST_THROWS = 'self-test: a check that throws (must fail)';
export const SELF_TEST_WEBHOOK = 'self-test: the webhook receiver keeps what is posted to it (must pass)';
export const SELF_TEST_ERROR_SHAPE = 'self-test: an error code that no server sends (must fail)';

export const selfTestChecks: Check[] = [
  {
    area: 'errors',
    via: 'rest',
    name: SELF_TEST_WRONG,
    source: 'runner self-test',
    async run(ctx) {
      expectStatus(await ctx.rest.get(p`/digitaltwins/${'self-test-missing'}`), 200);
    },
  },
  {
    area: 'errors',
    via: 'rest',
    name: SELF_TEST_RIGHT,
    source: 'runner self-test',
    async run(ctx) {
      const res = await ctx.rest.get(p`/digitaltwins/${'self-test-missing'}`);
      if (res.status === 200) throw new Error('a missing twin answered 200');
    },
  },
  {
    area: 'errors',
    via: 'rest',
    name: SELF_TEST_THROWS,
    source: 'runner self-test',
    async run() {
      await Promise.resolve();
      throw new Error('thrown on purpose');
    },
  },
  {
    area: 'errors',
    via: 'rest',
    name: SELF_TEST_ERROR_SHAPE,
    source: 'runner self-test',
    async run(ctx) {
      expectError(await ctx.rest.get(p`/digitaltwins/${'self-test-missing'}`), 404, 'NoServerSendsThisCode');
    },
  },
  {
    area: 'errors',
    via: 'rest',
    name: SELF_TEST_WEBHOOK,
    source: 'runner self-test',
    async run(ctx) {
      const ev = {
        specversion: '1.0',
        id: 'x',
        type: 'self.test',
        subject: 'hook',
        source: 'self',
        data: { a: 1 },
      };
      const res = await fetch(ctx.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: JSON.stringify(ev),
      });
      expectTrue('200 from the receiver', res.status === 200, res.status);
      const got = cloudEvents(await ctx.webhookEvents()).filter((e) => e.type === 'self.test');
      expectTrue('the event is listed', got.length === 1 && got[0]?.subject === 'hook', got);
    },
  },
];
