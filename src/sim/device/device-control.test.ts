/**
 * The device side of the control contract without a broker: answers, at-most-once, desired →
 * reported with $ack, and hostile input answered 400 or rejected, never thrown.
 */
import { describe, expect, it } from 'vitest';
import { createDeviceControl, type DesiredOutcome } from './device-control.js';
import { commandResponseOf, plausibleValue } from './command-response.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const cmd = (o: Record<string, unknown>): Uint8Array =>
  bytes(
    JSON.stringify({
      command: 'setRunning',
      sentAt: '2026-12-03T10:00:00.000Z',
      expiresAt: '2026-12-03T10:10:00.000Z',
      responseTopic: 'twins/pump-1/commands/setRunning/response',
      ...o,
    }),
  );

function setup() {
  const rejected: string[] = [];
  const applied: unknown[] = [];
  const control = createDeviceControl({
    respond: () => true,
    reject: (twin, what, why) => rejected.push(`${twin} ${what}: ${why}`),
    rememberedRequests: 3,
  });
  const apply = (request: unknown): void => {
    if (typeof request !== 'boolean') throw new Error('setRunning needs true or false');
    applied.push(request);
  };
  return { control, rejected, applied, apply };
}

describe('a simulated device answering commands', () => {
  it('applies a command and answers 200 with the response on its response topic', () => {
    const { control, applied, apply } = setup();
    const r = control.command('pump-1', 'setRunning', cmd({ requestId: 'r1', request: false }), {}, apply);
    expect(applied).toEqual([false]);
    expect(r?.applied).toBe(true);
    expect(r?.reply.topic).toBe('twins/pump-1/commands/setRunning/response');
    expect(JSON.parse(r?.reply.payload ?? '')).toEqual({ requestId: 'r1', status: 200, response: true });
    expect(r?.reply.correlationData).toBeUndefined();
  });

  it('prefers the MQTT 5 Response Topic and echoes the Correlation Data', () => {
    const { control, apply } = setup();
    const corr = bytes('r2');
    const r = control.command(
      'pump-1',
      'setRunning',
      cmd({ requestId: 'r2', request: true, responseTopic: 'twins/pump-1/commands/other/response' }),
      { responseTopic: 'twins/pump-1/commands/setRunning/response', correlationData: corr },
      apply,
    );
    expect(r?.reply.topic).toBe('twins/pump-1/commands/setRunning/response');
    expect(r?.reply.correlationData).toBe(corr);
  });

  it('never answers on a topic that is not its own twin’s response topic', () => {
    const { control, apply } = setup();
    for (const responseTopic of [
      'twins/pump-2/commands/setRunning/response',
      'twins/pump-1/telemetry',
      '#',
    ]) {
      const r = control.command(
        'pump-1',
        'setRunning',
        cmd({ requestId: responseTopic, request: true, responseTopic }),
        {},
        apply,
      );
      expect(r?.reply.topic).toBe('twins/pump-1/commands/setRunning/response');
      const v5 = control.command(
        'pump-1',
        'setRunning',
        cmd({ requestId: `${responseTopic}-5`, request: true }),
        { responseTopic },
        apply,
      );
      expect(v5?.reply.topic).toBe('twins/pump-1/commands/setRunning/response');
    }
  });

  it('answers 400 with the reason when the device refuses the command, and does not count it applied', () => {
    const { control, applied, apply } = setup();
    const r = control.command('pump-1', 'setRunning', cmd({ requestId: 'r3', request: 'fast' }), {}, apply);
    expect(applied).toEqual([]);
    expect(r?.applied).toBe(false);
    expect(r?.status).toBe(400);
    expect(JSON.parse(r?.reply.payload ?? '')).toEqual({
      requestId: 'r3',
      status: 400,
      response: { error: 'setRunning needs true or false' },
    });
  });

  it('answers a request id again with the same answer and applies it once; remembers a bounded number', () => {
    const { control, applied, apply } = setup();
    const first = control.command(
      'pump-1',
      'setRunning',
      cmd({ requestId: 'dup', request: false }),
      {},
      apply,
    );
    const again = control.command(
      'pump-1',
      'setRunning',
      cmd({ requestId: 'dup', request: false }),
      {},
      apply,
    );
    expect(applied).toEqual([false]);
    expect(again?.applied).toBe(false);
    expect(again?.reply.payload).toBe(first?.reply.payload);
    expect(again?.status).toBe(200);
    // Another twin's request of the same id is its own.
    control.command('pump-2', 'setRunning', cmd({ requestId: 'dup', request: true }), {}, apply);
    expect(applied).toEqual([false, true]);
    // Only the last 3 ids per twin are remembered.
    for (const id of ['a', 'b', 'c'])
      control.command('pump-1', 'setRunning', cmd({ requestId: id, request: true }), {}, apply);
    control.command('pump-1', 'setRunning', cmd({ requestId: 'dup', request: false }), {}, apply);
    expect(applied).toEqual([false, true, true, true, true, false]);
  });

  it('answers hostile messages 400 when it can match the answer, else rejects them; never throws', () => {
    const { control, rejected, applied, apply } = setup();
    const corr = bytes('c');
    const hostile: [string, Uint8Array][] = [
      ['malformed', bytes('{"requestId": "x", ')],
      ['not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
      ['__proto__', bytes('{"requestId":"p","request":{"__proto__":{"polluted":true}}}')],
      ['deep', bytes(`{"requestId":"d","request":${'['.repeat(500)}${']'.repeat(500)}}`)],
      ['huge', bytes(JSON.stringify({ requestId: 'h', request: 'x'.repeat(100_000) }))],
      ['array', bytes('[1,2]')],
      ['no id', bytes('{"request":true}')],
      ['id not a string', bytes('{"requestId":42,"request":true}')],
      ['long id', bytes(JSON.stringify({ requestId: 'i'.repeat(300), request: true }))],
    ];
    for (const [, payload] of hostile) {
      // Without correlation data nothing matches an answer to them: rejected, with the reason.
      expect(control.command('pump-1', 'setRunning', payload, {}, apply)).toBeUndefined();
      // With it (MQTT 5) the platform can match a 400.
      const r = control.command('pump-1', 'setRunning', payload, { correlationData: corr }, apply);
      expect(r?.status).toBe(400);
      const body = JSON.parse(r?.reply.payload ?? '') as { status: number; response: { error: string } };
      expect(body.status).toBe(400);
      expect(body.response.error.length).toBeGreaterThan(0);
      expect(r?.reply.correlationData).toBe(corr);
    }
    expect(rejected).toHaveLength(hostile.length);
    expect(rejected.some((r) => r.includes('__proto__'))).toBe(true);
    expect(rejected.some((r) => r.includes('100') && r.includes('bytes'))).toBe(true);
    expect(applied).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('a simulated device applying desired state', () => {
  const doc = (o: Record<string, unknown>) => bytes(JSON.stringify(o));
  const applyNumbers = (desired: Record<string, unknown>): DesiredOutcome => {
    const out: DesiredOutcome = { applied: {}, refused: {} };
    for (const [k, v] of Object.entries(desired))
      if (typeof v === 'number') out.applied[k] = v;
      else out.refused[k] = 'needs a number';
    return out;
  };

  it('reports what it applied, its read-only properties and $ack 200 with the version', () => {
    const { control } = setup();
    const r = control.desired(
      'pump-1',
      doc({ desired: { flowSetpoint: 20 }, $version: 4, $etag: 'W/"x"', $lastUpdateTime: 'x' }),
      applyNumbers,
      { vibrationLimit: 7.1 },
    );
    expect(r?.reply.topic).toBe('twins/pump-1/reported');
    expect(JSON.parse(r?.reply.payload ?? '')).toEqual({
      flowSetpoint: 20,
      vibrationLimit: 7.1,
      $ack: { version: 4, code: 200 },
    });
  });

  it('acknowledges 400 with a description for a value it cannot apply, reporting the others', () => {
    const { control } = setup();
    const r = control.desired(
      'pump-1',
      doc({ desired: { flowSetpoint: 'max', b: 2 }, $version: 5 }),
      applyNumbers,
      {},
    );
    expect(JSON.parse(r?.reply.payload ?? '')).toEqual({
      b: 2,
      $ack: { version: 5, code: 400, description: 'flowSetpoint: needs a number' },
    });
  });

  it('rejects documents without a version and hostile ones; a non-object desired is acknowledged 400', () => {
    const { control, rejected } = setup();
    const never = (): DesiredOutcome => {
      throw new Error('must not be applied');
    };
    for (const payload of [
      doc({ desired: { a: 1 } }),
      doc({ desired: { a: 1 }, $version: -1 }),
      doc({ desired: { a: 1 }, $version: '3' }),
      bytes('{"desired":{"__proto__":{"x":1}},"$version":1}'),
      bytes('not json'),
      new Uint8Array([0xc3, 0x28]),
      bytes(JSON.stringify({ desired: { a: 'x'.repeat(70_000) }, $version: 1 })),
      bytes('null'),
    ])
      expect(control.desired('pump-1', payload, never, {})).toBeUndefined();
    expect(rejected).toHaveLength(8);
    const r = control.desired('pump-1', doc({ desired: [1], $version: 2 }), never, {});
    expect(JSON.parse(r?.reply.payload ?? '')).toEqual({
      $ack: { version: 2, code: 400, description: "desired: the document has no 'desired' object" },
    });
  });
});

describe('the response a simulated device answers with', () => {
  it('is a value of the command’s response schema, or none when there is no obvious one', () => {
    expect(plausibleValue({ kind: 'primitive', name: 'boolean' })).toBe(true);
    expect(plausibleValue({ kind: 'primitive', name: 'double' })).toBe(0);
    expect(plausibleValue({ kind: 'primitive', name: 'dateTime' })).toBeUndefined();
    expect(
      plausibleValue({
        kind: 'object',
        fields: [
          { name: 'ok', schema: { kind: 'primitive', name: 'boolean' } },
          {
            name: 'mode',
            schema: { kind: 'enum', valueSchema: 'string', values: [{ name: 'a', value: 'auto' }] },
          },
        ],
      }),
    ).toEqual({ ok: true, mode: 'auto' });
    expect(commandResponseOf(undefined)).toBeUndefined();
    expect(
      commandResponseOf({
        kind: 'Command',
        name: 'setRunning',
        semanticTypes: [],
        definedIn: 'dtmi:test:Pump;1',
        response: { name: 'accepted', schema: { kind: 'primitive', name: 'boolean' }, nullable: false },
      }),
    ).toBe(true);
  });
});
