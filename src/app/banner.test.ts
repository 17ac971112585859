import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bannerLines, dataFlag, formatBanner, mosquittoPubLine, type BannerInfo } from './banner.js';

const base: BannerInfo = {
  httpUrl: 'http://127.0.0.1:8480',
  liveUrl: 'ws://127.0.0.1:8480/live',
  mqttUrl: 'mqtt://127.0.0.1:1884',
  mqttMode: 'embedded',
  dataDir: '/work/app/data',
  cwd: '/work/app',
  twins: 12,
  pilot: 'pump-line',
  exampleTwin: 'pump-1a',
  exampleTelemetry: 'vibration',
  simulator: { assets: 9, speed: 60 },
  shadow: true,
  defaultPorts: { http: 8480, mqtt: 1883 },
};

describe('the start banner', () => {
  it('prints a ready-to-paste mosquitto_pub line with the MQTT port actually bound', () => {
    const text = formatBanner(base);
    expect(text).toContain(
      "try: mosquitto_pub -h 127.0.0.1 -p 1884 -q 1 -t 'twins/pump-1a/telemetry' -m '{\"vibration\": 1}'",
    );
    expect(text).toContain('port 1883 is taken');
    expect(text).toContain('Home page                  http://127.0.0.1:8480/');
  });

  it('says nothing about a taken port when the default was free', () => {
    const text = formatBanner({ ...base, mqttUrl: 'mqtt://127.0.0.1:1883' });
    expect(text).toContain('-p 1883');
    expect(text).not.toContain('is taken');
  });

  it('adds --data DIR to its CLI hint when the data folder is not ./data', () => {
    expect(formatBanner(base)).toContain('query "SELECT * FROM DIGITALTWINS"\n');
    const ev = formatBanner({ ...base, dataDir: '/work/app/data-ev', pilot: 'ev-fleet' });
    expect(ev).toContain('query "SELECT * FROM DIGITALTWINS" --data ./data-ev');
    expect(dataFlag('/tmp/fh data', '/work/app')).toBe(" --data '/tmp/fh data'");
    expect(dataFlag(path.resolve('data'), process.cwd())).toBe('');
  });

  it('gives the token as MQTT password when one is needed, and no pub line for a non-MQTT URL', () => {
    const lines = bannerLines({ ...base, token: { value: 'tl_secret', created: true } });
    expect(lines.join('\n')).toContain(`-u device -P "$(cat /work/app/data/token)"`);
    expect(mosquittoPubLine({ mqttUrl: 'ws://broker:9001' })).toBeUndefined();
    expect(mosquittoPubLine({ mqttUrl: 'mqtts://broker.example' })).toContain('-p 8883 --capath');
  });
});
