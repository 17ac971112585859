import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostMatcher, splitHost, tokenFromProtocols } from './http-edge-guard.js';

const matcher = (host: string, allowedHosts: string[] = []) =>
  hostMatcher({ host, allowedHosts, tls: false, boundPort: () => 8480, hostname: 'box' });

describe('Host check', () => {
  it('splits host headers, IPv6 literals included, and refuses what is not a host', () => {
    expect(splitHost('LocalHost:8480')).toEqual({ name: 'localhost', port: '8480' });
    expect(splitHost('[::1]:80')).toEqual({ name: '[::1]', port: '80' });
    expect(splitHost('example.com.')).toEqual({ name: 'example.com', port: undefined });
    for (const bad of ['', 'a b', 'user@host', 'host/path', '::1', 'h:x'])
      expect(splitHost(bad)).toBeUndefined();
  });

  it('on loopback: localhost, 127.0.0.1 and [::1] on the bound port; nothing else', () => {
    const ok = matcher('127.0.0.1');
    for (const h of ['localhost:8480', '127.0.0.1:8480', '[::1]:8480', 'localhost', undefined])
      expect(ok(h)).toBe(true);
    for (const h of ['localhost:8481', 'evil.example:8480', '10.0.0.5:8480', 'box:8480', '127.0.0.2:8480'])
      expect(ok(h)).toBe(false);
  });

  it('on every interface: the loopback names, IP literals and the machine name, any port', () => {
    const ok = matcher('0.0.0.0');
    for (const h of ['localhost:9000', '192.168.1.20:8480', '[fe80::1]:8480', 'box:80', '0.0.0.0:8480'])
      expect(ok(h)).toBe(true);
    for (const h of ['evil.example', 'localhost.evil.example:8480']) expect(ok(h)).toBe(false);
  });

  it('on a named address: that name; plus the allow-list (with or without a port)', () => {
    const ok = matcher('twins.lan', ['proxy.example', 'tunnel.example:9000']);
    for (const h of ['twins.lan:8480', 'proxy.example:443', 'proxy.example', 'tunnel.example:9000'])
      expect(ok(h)).toBe(true);
    for (const h of ['localhost:8480', 'tunnel.example:9001', 'tunnel.example']) expect(ok(h)).toBe(false);
  });
});

describe('the token as a WebSocket subprotocol (the web app)', () => {
  const entry = (t: string) => `twinloop.bearer.${Buffer.from(t).toString('base64url')}`;

  it('reads exactly one twinloop.bearer. entry, base64url of the token (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (token) => {
        expect(tokenFromProtocols(`twinloop.live, ${entry(token)}`)).toBe(
          Buffer.from(Buffer.from(token).toString('base64url'), 'base64url').toString('utf8'),
        );
      }),
    );
    expect(tokenFromProtocols(`twinloop.live, ${entry('tl_abc')}`)).toBe('tl_abc');
  });

  it('takes no token from anything else', () => {
    for (const h of [
      undefined,
      '',
      'twinloop.live',
      ['twinloop.bearer.dGxfYWJj'],
      `${entry('a')}, ${entry('a')}`, // two: neither
      'twinloop.bearer.', // empty
      'twinloop.bearer.dGxfYWJj=', // padding: not base64url
      'twinloop.bearer.dGxfYWJj+/', // base64, not base64url
      'twinloop.bearer.dGxfYWJk1', // not canonical (trailing bits)
      `twinloop.bearer.${'A'.repeat(2000)}`, // too long
      'Twinloop.Bearer.dGxfYWJj', // case matters
    ])
      expect(tokenFromProtocols(h as string | string[] | undefined), String(h)).toBeUndefined();
    fc.assert(
      fc.property(fc.string(), (s) => ['string', 'undefined'].includes(typeof tokenFromProtocols(s))),
    );
  });
});
