/**
 * Large result downloads over a real HTTP connection whose client stops reading: the server
 * serialises only as far as the socket takes (backpressure), keeps answering other requests
 * meanwhile, and the whole document arrives intact once the client reads again.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import type { KeptResult, KeptTrajectory } from '../../../sim/whatif/what-if-kept.js';
import type { WhatIfJob } from '../../../sim/whatif/what-if-types.js';
import { simulationsPlugin, type SimulationsPort } from './simulations-plugin.js';

const TWINS = 48;
const FULL = 40_000;
const SAMPLES = FULL;
const CSV_SAMPLES = 15_000;

/** A result of TWINS twins whose `times` getter counts how far the serialiser went. */
function bigResult(SAMPLES = FULL): { result: KeptResult; serialised: () => number } {
  let touched = 0;
  const twins = Array.from({ length: TWINS }, (_, i): KeptTrajectory => {
    const times = Float64Array.from({ length: SAMPLES }, (_, k) => k);
    const series = (seed: number) => Float64Array.from({ length: SAMPLES }, (_, k) => (k * seed) % 997);
    const tr = {
      twinId: `t${i}`,
      behaviour: 'b',
      fork: 'model' as const,
      forkTime: 0,
      telemetry: { a: series(3), b: series(5) },
      properties: {},
      states: { s: series(7) },
      outputs: { o: series(11) },
      units: {},
    };
    Object.defineProperty(tr, 'times', {
      enumerable: true,
      get() {
        touched = Math.max(touched, i + 1);
        return times;
      },
    });
    return tr as unknown as KeptTrajectory;
  });
  return { result: { twins, bytes: 0 }, serialised: () => touched };
}

const job: WhatIfJob = {
  id: 'big',
  status: 'succeeded',
  progress: 1,
  simulatedSeconds: SAMPLES,
  horizon: SAMPLES - 1,
  sampleInterval: 1,
  method: 'rk4',
  step: 1,
  twins: [],
  skipped: [],
  createdAt: new Date(0).toISOString(),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('streamed what-if downloads', () => {
  let app: FastifyInstance;
  let port: number;
  let current: ReturnType<typeof bigResult>;
  const open: http.IncomingMessage[] = [];
  const port$: SimulationsPort = {
    create: () => job,
    get: () => job,
    list: () => [job],
    cancel: () => job,
    wait: async () => job,
    result: () => current.result,
    answer: () => ({ id: job.id, sentence: '', checks: [] }),
  };

  beforeAll(async () => {
    app = Fastify();
    app.get('/healthz', async () => ({ status: 'ok' }));
    await app.register(simulationsPlugin(port$));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const r of open) r.destroy();
    await app.close();
  });

  /** Starts a download, reads its first bytes, then stops reading. */
  async function stalledDownload(path: string) {
    const chunks: Buffer[] = [];
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path }, resolve).on('error', reject);
    });
    await new Promise<void>((resolve) => res.once('data', (c: Buffer) => (chunks.push(c), resolve())));
    res.pause();
    open.push(res);
    return {
      res,
      async readAll(): Promise<string> {
        res.on('data', (c: Buffer) => chunks.push(c));
        res.resume();
        await new Promise((r) => res.once('end', r));
        return Buffer.concat(chunks).toString('utf8');
      },
    };
  }

  /** Waits until the serialiser has stopped advancing (the socket is full). */
  async function settle(): Promise<number> {
    let last = -1;
    for (let i = 0; i < 100; i++) {
      await sleep(30);
      const now = current.serialised();
      if (now === last) return now;
      last = now;
    }
    return last;
  }

  it('JSON: serialises only what the client reads, /healthz answers meanwhile, the document arrives whole', async () => {
    current = bigResult();
    const d = await stalledDownload('/simulations/big/trajectories');
    expect(d.res.headers['content-type']).toMatch(/^application\/json/);
    const stalledAt = await settle();
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    // The client reads nothing: the server went a socket's worth (~11 MB seen) into the ~50 MB document, not through it.
    expect(stalledAt).toBeLessThan(TWINS / 2);
    expect(current.serialised()).toBeLessThan(TWINS / 2);
    const body = JSON.parse(await d.readAll()) as {
      twins: { twinId: string; times: number[]; outputs: { o: number[] } }[];
    };
    expect(body.twins).toHaveLength(TWINS);
    expect(body.twins[TWINS - 1]!.times).toHaveLength(SAMPLES);
    expect(body.twins[7]!.outputs.o[123]).toBe((123 * 11) % 997);
  });

  it('CSV: likewise, one line per value', async () => {
    current = bigResult(CSV_SAMPLES); // ~63 MB of CSV: far more than loopback buffers (~11 MB seen)
    const d = await stalledDownload('/simulations/big/trajectories.csv');
    const stalledAt = await settle();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(stalledAt).toBeLessThan(TWINS / 2);
    const text = await d.readAll();
    const lines = text.split('\n');
    expect(lines[0]).toBe('twin,time,kind,name,value');
    expect(lines.length - 2).toBe(TWINS * CSV_SAMPLES * 4);
    expect(lines).toContain(`t47,14999,output,o,${(14999 * 11) % 997}`);
  });
});
