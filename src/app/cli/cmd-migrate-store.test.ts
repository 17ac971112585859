import { describe, expect, it } from 'vitest';
import { countTable, progressRenderer } from './cmd-migrate-store.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, write: (s: string) => chunks.push(s), chunks };
}

describe('migrate-store output', () => {
  it('plain lines off a terminal: kinds when done, history with rate and time left, throttled', () => {
    let t = 0;
    const out = sink(false);
    const p = progressRenderer(out, { now: () => t, intervalMs: 5000 });
    p.update({ kind: 'twins', done: 1, total: 2 });
    p.update({ kind: 'twins', done: 2, total: 2 });
    p.update({ kind: 'historyPoints', done: 0, total: 1_000_000 });
    t = 1000;
    p.update({ kind: 'historyPoints', done: 100_000, total: 1_000_000 }); // throttled
    t = 6000;
    p.update({ kind: 'historyPoints', done: 600_000, total: 1_000_000 });
    t = 7000;
    p.update({ kind: 'historyPoints', done: 1_000_000, total: 1_000_000 }); // the last one always shows
    p.end();
    expect(out.chunks).toEqual([
      'twins: 2 copied\n',
      'history points 0/1,000,000 (0%), 0 points/s\n',
      'history points 600,000/1,000,000 (60%), 100,000 points/s, about 4 s left\n',
      'history points 1,000,000/1,000,000 (100%), 142,857 points/s, about 0 s left\n',
    ]);
  });

  it('a redrawn bar on a terminal', () => {
    let t = 0;
    const out = sink(true);
    const p = progressRenderer(out, { now: () => t });
    p.update({ kind: 'historyPoints', done: 0, total: 10 });
    t = 2000;
    p.update({ kind: 'historyPoints', done: 5, total: 10 });
    p.update({ kind: 'deadLetters', done: 1, total: 1 });
    p.end();
    expect(out.chunks[1]).toBe(
      '\r\u001b[2K[###############---------------] history points 5/10 (50%), 3 points/s, about 2 s left',
    );
    expect(out.chunks.slice(2)).toEqual(['\n', 'dead letters: 1 copied\n']);
  });

  it('the count table marks a row that differs', () => {
    const text = countTable([
      { kind: 'twins', source: 3, target: 3, equal: true },
      { kind: 'historyPoints', source: 1_000_000, target: 999_999, equal: false },
    ]);
    expect(text.split('\n')).toEqual([
      'kind               source   target',
      '--------------  ---------  -------  -------',
      'twins                   3        3  ok',
      'history points  1,000,000  999,999  DIFFERS',
      '',
    ]);
  });
});
