/**
 * The email endpoint against a real SMTP server (smtp-server, in-process, port 0): what arrives,
 * permanent versus retried failures, and the login.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../core/ports/event-routing.js';
import { DeliveryFailure } from '../../core/ports/event-routing.js';
import { EmailRouteSender } from './email-route-sender.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

const servers: SMTPServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(() => r(undefined)))));
});

async function smtp(extra: Partial<SMTPServerOptions> = {}): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        cb();
      });
    },
    ...extra,
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, received };
}

const alarmEvent = (twinId: string): CloudEvent =>
  ({
    specversion: '1.0',
    id: 'ev-1',
    source: 'twinloop',
    type: 'Twinloop.Alarm.Raised',
    subject: twinId,
    time: new Date(0).toISOString(),
    datacontenttype: 'application/json',
    data: { twinId, severity: 'major', message: 'vibration 7.9 above its limit 7.1 for 5 min' },
  }) as CloudEvent;

describe('EmailRouteSender (real SMTP server)', () => {
  it('sends one mail per event, the alarm in words in the subject and the event as JSON in the body', async () => {
    const { url, received } = await smtp();
    const s = new EmailRouteSender({
      url,
      from: 'twinloop@example.com',
      to: ['ops@example.com', 'lead@example.com'],
    });
    await s.send(alarmEvent('pump-3a'));
    await s.close();
    expect(received).toHaveLength(1);
    const m = received[0] as Received;
    expect(m.from).toBe('twinloop@example.com');
    expect(m.to).toEqual(['ops@example.com', 'lead@example.com']);
    expect(m.raw).toMatch(/^Subject: \[Twinloop\] major alarm raised: pump-3a/m);
    expect(m.raw).toMatch(/^X-Twinloop-Event-Id: ev-1$/im);
    expect(m.raw).toContain('"type": "Twinloop.Alarm.Raised"');
  });

  it('keeps hostile event text out of the headers (no header injection)', async () => {
    const { url, received } = await smtp();
    const s = new EmailRouteSender({ url, from: 'twinloop@example.com', to: ['ops@example.com'] });
    await s.send(alarmEvent('pump\r\nBcc: thief@example.com'));
    await s.close();
    const headers = (received[0] as Received).raw.split(/\r\n\r\n/)[0] as string;
    expect(headers).not.toMatch(/^Bcc:/im);
    expect((received[0] as Received).to).toEqual(['ops@example.com']);
  });

  it('a 5xx answer is permanent (dead-lettered at once); a server that is down is retried', async () => {
    const { url } = await smtp({
      onRcptTo(_addr, _session, cb) {
        const e = new Error('mailbox unavailable') as Error & { responseCode: number };
        e.responseCode = 550;
        cb(e);
      },
    });
    const refused = new EmailRouteSender({ url, from: 'twinloop@example.com', to: ['nobody@example.com'] });
    const e1 = await refused.send(alarmEvent('p')).catch((e: unknown) => e);
    await refused.close();
    expect(e1).toBeInstanceOf(DeliveryFailure);
    expect((e1 as DeliveryFailure).permanent).toBe(true);
    expect((e1 as DeliveryFailure).message).toContain('SMTP 550');

    const down = new EmailRouteSender({
      url: 'smtp://127.0.0.1:1',
      from: 'a@example.com',
      to: ['b@example.com'],
      timeoutMs: 2000,
    });
    const e2 = await down.send(alarmEvent('p')).catch((e: unknown) => e);
    await down.close();
    expect(e2).toBeInstanceOf(DeliveryFailure);
    expect((e2 as DeliveryFailure).permanent).toBe(false);
  });

  it('logs in with the endpoint secret; a wrong password fails without the password in the error', async () => {
    const { url, received } = await smtp({
      authOptional: false,
      allowInsecureAuth: true,
      onAuth(auth, _session, cb) {
        if (auth.username === 'alerts' && auth.password === 's3cret-pw') cb(null, { user: 'alerts' });
        else cb(new Error('Invalid username or password'));
      },
    });
    const ok = new EmailRouteSender({
      url,
      from: 'a@example.com',
      to: ['b@example.com'],
      authUser: 'alerts',
      secret: 's3cret-pw',
    });
    await ok.send(alarmEvent('p'));
    await ok.close();
    expect(received).toHaveLength(1);
    const bad = new EmailRouteSender({
      url,
      from: 'a@example.com',
      to: ['b@example.com'],
      authUser: 'alerts',
      secret: 'wrong-pw',
    });
    const e = await bad.send(alarmEvent('p')).catch((x: unknown) => x);
    await bad.close();
    expect(e).toBeInstanceOf(DeliveryFailure);
    expect(String((e as Error).message)).not.toContain('wrong-pw');
  });
});
