import { describe, expect, it } from 'vitest';
import { hostMatcher, splitHost } from './http-edge-guard.js';

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
