/**
 * WebSocket subscribers for bench/fanout, in their own process: N real `ws` clients, each
 * subscribed to every twin of the pump model. Mode 'reading' parses every frame and counts the
 * events; mode 'paused' stops reading its socket once subscribed (the TCP window fills, the
 * server's send buffer grows: a stalled dashboard). argv: url n mode
 * Messages: → ready; 'mark' → count {events, frames, dropped}; 'stop'.
 */
import WebSocket from 'ws';

const [url = '', nS = '20', mode = 'reading'] = process.argv.slice(2);
const send = (m: unknown) => process.send?.(m);
let events = 0;
let frames = 0;
let dropped = 0;
const sockets: WebSocket[] = [];

async function open(i: number): Promise<void> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (d) => {
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
  if (m.type === 'mark') send({ type: 'count', events, frames, dropped });
  else if (m.type === 'stop') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
