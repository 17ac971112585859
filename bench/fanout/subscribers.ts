/**
 * WebSocket subscribers for bench/fanout, in their own process: N real `ws` clients, each
 * subscribed to every twin of the pump model. Mode 'reading' parses every frame and counts the
 * events; mode 'paused' stops reading its socket once subscribed (the TCP window fills, the
 * server's send buffer grows: a stalled dashboard). argv: url n mode
 * A load generator stays cheap next to the system under test: event frames are counted by scanning
 * their bytes for event starts (every 100th is parsed in full and checked against the scan); other
 * messages (subscribed, dropped notices) are parsed.
 * Messages: → ready; 'mark' → count {events, frames, dropped, cpuMs}; 'stop'.
 */
import WebSocket from 'ws';

const [url = '', nS = '20', mode = 'reading'] = process.argv.slice(2);
const send = (m: unknown) => process.send?.(m);
let events = 0;
let frames = 0;
let dropped = 0;
const sockets: WebSocket[] = [];
const EVENT_START = Buffer.from('{"type":"');

async function open(i: number): Promise<void> {
  const ws = new WebSocket(url, { skipUTF8Validation: true });
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (d: Buffer) => {
      if (d.subarray(0, 7).toString() === '{"sub":') {
        frames++;
        let n = 0;
        for (let at = d.indexOf(EVENT_START); at >= 0; at = d.indexOf(EVENT_START, at + 1)) n++;
        if (frames % 100 === 0 && (JSON.parse(d.toString()) as { events: unknown[] }).events.length !== n)
          throw new Error('event count scan disagrees with the parsed frame');
        events += n;
        return;
      }
      const m = JSON.parse(d.toString()) as { type?: string; events?: unknown[]; count?: number };
      if (m.type === 'subscribed') {
        if (mode === 'paused') (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        resolve();
        return;
      }
      frames++;
      if (Array.isArray(m.events)) events += m.events.length;
      if (m.type === 'dropped' || m.type === 'lagged') dropped += m.count ?? 0;
    });
    ws.once('open', () =>
      ws.send(JSON.stringify({ op: 'subscribe', id: `all-${i}`, model: 'dtmi:twinloop:test:Pump;1' })),
    );
  });
}

await Promise.all(Array.from({ length: Number(nS) }, (_, i) => open(i)));
send({ type: 'ready' });
process.on('message', (m: { type: string }) => {
  if (m.type === 'mark') {
    const u = process.cpuUsage();
    send({ type: 'count', events, frames, dropped, cpuMs: (u.user + u.system) / 1000 });
  } else if (m.type === 'stop') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
