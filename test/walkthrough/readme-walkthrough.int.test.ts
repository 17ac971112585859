/**
 * The README's five-minute walk-through, every command as written, against `twinloop start` in its
 * default mode (simulator and shadow mode on) while the default MQTT and HTTP ports are held by
 * someone else (as when Mosquitto already runs on 1883). The commands are read from the README's
 * fenced block, so this test breaks when the README drifts; `twinloop` is the README's alias,
 * resolved to the CLI's source, and `mosquitto_pub` is the real binary when installed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../platform/platform-fixture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cliMain = path.join(root, 'src/app/cli/main.ts');
const data = tempDataDir('twinloop-walkthrough-');
const README_ALIAS = "alias twinloop='npm run -s twinloop --'";

/** The shell commands of the README's walk-through block, in order (comments and blanks dropped). */
export function walkthroughCommands(readme: string): string[] {
  const section = readme.indexOf('## A five-minute walk-through');
  if (section < 0) throw new Error('README has no "A five-minute walk-through" section');
  const start = readme.indexOf('```sh\n', section);
  const end = readme.indexOf('\n```', start + 1);
  if (start < 0 || end < 0) throw new Error('the walk-through has no ```sh block');
  const text = readme.slice(start + '```sh\n'.length, end).replace(/\\\n\s*/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Holds a TCP port (as Mosquitto holds 1883) until closed. */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** This process's environment without any TWINLOOP_* setting (the defaults must be the defaults). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TWINLOOP_')));
  return { ...env, ...extra };
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const hasMosquittoPub = [
  '/usr/bin/mosquitto_pub',
  '/usr/local/bin/mosquitto_pub',
  '/opt/homebrew/bin/mosquitto_pub',
].some(existsSync);

/** Runs one README line with bash, `twinloop` being the README's alias resolved to the CLI source. */
function sh(line: string): Promise<Result> {
  const prelude = [
    `twinloop() { "${process.execPath}" --import tsx "${cliMain}" "$@"; }`,
    hasMosquittoPub
      ? ''
      : `mosquitto_pub() { "${process.execPath}" --import tsx "${path.join(root, 'test/walkthrough/mqtt-pub.ts')}" "$@"; }`,
  ].join('\n');
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', `${prelude}\n${line}`],
      {
        cwd: root,
        env: cleanEnv({ TWINLOOP_DATA: data.dir }),
        timeout: 90_000,
      },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}

let child: ChildProcess | undefined;
let banner = '';
const held: Server[] = [];
let defaults = { http: 0, mqtt: 0 };

beforeAll(async () => {
  const http = await holdPort();
  const mqtt = await holdPort();
  held.push(http.server, mqtt.server);
  defaults = { http: http.port, mqtt: mqtt.port };
  // Defaults, not explicit ports: a config file's ports are defaults, so a busy one is skipped.
  const config = path.join(data.dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({ httpPort: http.port, mqtt: { port: mqtt.port }, logLevel: 'error' }),
  );
  child = spawn(
    process.execPath,
    ['--import', 'tsx', cliMain, 'start', '--config', config, '--data', data.dir],
    {
      cwd: root,
      env: {
        ...process.env,
        TWINLOOP_SIM: '',
        TWINLOOP_SHADOW: '',
        TWINLOOP_HTTP_PORT: '',
        TWINLOOP_MQTT_PORT: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 60 s:\n${banner}\n${err}`)), 60_000);
    child!.stdout!.on('data', (d: Buffer) => {
      banner += d.toString();
      if (banner.includes('Stop with Ctrl+C')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child!.once('exit', (code) => reject(new Error(`twinloop start exited (${code}):\n${banner}\n${err}`)));
  });
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  for (const s of held) s.close();
  data.cleanup();
});

const json = <T>(r: Result): T => JSON.parse(r.stdout) as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the README walk-through, as written, in the default mode', () => {
  it('runs every command with the effect the README promises', async () => {
    // The banner: ports actually bound, and a mosquitto_pub line that reaches this broker.
    const mqttUrl = /MQTT \(embedded broker\)\s+(mqtt:\/\/\S+)/.exec(banner)?.[1];
    const mqttPort = Number(new URL(mqttUrl!).port);
    expect(mqttPort).not.toBe(defaults.mqtt);
    expect(banner).toContain(`port ${defaults.mqtt} is taken`);
    expect(banner).toContain(`mosquitto_pub -h 127.0.0.1 -p ${mqttPort} `);
    expect(banner).toMatch(/Simulation\s+9 assets of pump-line/);
    expect(banner).toMatch(/Shadow mode/);
    const home = /Home page\s+(http:\/\/\S+)/.exec(banner)?.[1];
    expect(new URL(home!).port).not.toBe(String(defaults.http));
    const page = await fetch(home!);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain(`-p ${mqttPort}`);

    const commands = walkthroughCommands(readFileSync(path.join(root, 'README.md'), 'utf8'));
    expect(commands[0]).toBe(README_ALIAS);
    const checked = new Set<string>();
    let queuedFor3d: string | undefined;
    const step = (name: string) => checked.add(name);

    for (const line of commands.slice(1)) {
      const r = await sh(line);
      const where = `\n$ ${line}\n${r.stdout}\n${r.stderr}`;
      if (line.includes('vibration=\'"high"\'')) {
        // Wrong type: rejected with a non-zero exit, kept as a dead letter.
        expect(r.code, where).toBe(1);
        expect(r.stderr, where).toMatch(/InvalidTelemetry/);
        step('rejected');
        continue;
      }
      expect(r.code, where).toBe(0);
      if (line.startsWith('twinloop models validate')) {
        expect(r.stdout, where).toMatch(/0 error\(s\)/);
        step('validate');
      } else if (line.startsWith('twinloop models list')) {
        expect(
          json<{ id: string }[]>(r).map((m) => m.id),
          where,
        ).toContain('dtmi:twinloop:pumpline:Pump;1');
        step('models');
      } else if (line.startsWith('mosquitto_pub')) {
        step('mqtt');
      } else if (line.includes('AND P.\\$telemetry.vibration > 7')) {
        const ids = json<{ $dtId: string; vibration: number }[]>(r)
          .map((x) => x.$dtId)
          .sort();
        expect(ids, where).toEqual(['pump-3a', 'pump-3b']);
        step('headline');
      } else if (line.includes('MATCH (s)-[*1..10]->(p)')) {
        const ids = json<{ p: { $dtId: string } }[]>(r).map((x) => x.p.$dtId);
        expect(ids, where).toEqual(expect.arrayContaining(['pump-3a', 'pump-3b', 'pump-3e']));
        step('match');
      } else if (line.startsWith('twinloop history pump-3a vibration')) {
        const h = json<{ value: { ts: number; value: number }[] }>(r);
        expect(h.value[0]?.value, where).toBe(7.4); // newest first: the value sent by hand
        expect(h.value.length, where).toBeLessThanOrEqual(20);
        const ts = h.value.map((p) => p.ts);
        expect(ts, where).toEqual([...ts].sort((a, b) => b - a));
        step('history');
      } else if (line.startsWith('twinloop dead-letters')) {
        const dl = json<{ value: { code: string; payload: string }[] }>(r);
        expect(dl.value[0], where).toMatchObject({ code: 'InvalidTelemetry' });
        expect(dl.value[0]?.payload, where).toContain('high');
        step('dead-letters');
      } else if (line.startsWith('twinloop command pump-3c setRunning false --wait')) {
        // Followed to the simulated device's answer: each step printed, then the response.
        expect(r.stdout, where).toMatch(/^setRunning to pump-3c: request [0-9a-f-]{36}\n/);
        expect(r.stdout, where).toMatch(/ queued .*\n.* sent .*\n.* succeeded .*\nresponse: true\n$/s);
        step('command');
      } else if (line.startsWith('twinloop fault pump-3d offline')) {
        expect(r.stdout, where).toMatch(/pump-3d is offline/);
        step('offline');
      } else if (line.startsWith('twinloop command pump-3d setRunning false')) {
        expect(r.stdout, where).toMatch(/^setRunning to pump-3d: request [0-9a-f-]{36}\n {2}queued /);
        expect(r.stdout, where).not.toMatch(/sent/);
        queuedFor3d = /request ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
        step('queued');
      } else if (line.startsWith('twinloop fault pump-3d online')) {
        expect(r.stdout, where).toMatch(/pump-3d is online/);
        step('online');
      } else if (line.startsWith('twinloop commands pump-3d')) {
        // Piped, the CLI prints JSON: the queued command is listed (its answer may take a moment).
        const listed = json<{ requestId: string; state: string }[]>(r);
        expect(
          listed.map((c) => c.requestId),
          where,
        ).toContain(queuedFor3d);
        step('commands');
      } else if (line.startsWith('twinloop fault pump-3a bearingDamage')) {
        expect(r.stdout, where).toMatch(/bearingDamage on for pump-3a/);
        step('fault');
      } else if (line.startsWith('twinloop whatif')) {
        const w = json<{
          status: string;
          twins: string[];
          crossings: { twinId: string; series: string; crossedAt: number }[];
          withinLimits: { twinId: string }[];
        }>(r);
        expect(w.status, where).toBe('succeeded');
        expect(w.twins, where).toEqual(expect.arrayContaining(['pump-3a', 'pump-3b', 'pump-3c', 'pump-3d']));
        // An answer for every pump (pump-3e, created in step 2, included): crossed (when) or within its limit.
        const answered = [...w.crossings, ...w.withinLimits].map((c) => c.twinId).sort();
        expect(answered, where).toEqual(['pump-3a', 'pump-3b', 'pump-3c', 'pump-3d', 'pump-3e']);
        for (const c of w.crossings) expect(c.crossedAt, where).toBeGreaterThan(0);
        step('whatif');
      }
    }
    expect([...checked].sort()).toEqual(
      [
        'command',
        'commands',
        'offline',
        'online',
        'queued',
        'dead-letters',
        'fault',
        'headline',
        'history',
        'match',
        'models',
        'mqtt',
        'rejected',
        'validate',
        'whatif',
      ].sort(),
    );

    // The banner's own MQTT line reaches this broker with a reading the model accepts.
    const bannerPub = /try: (mosquitto_pub .*)/.exec(banner)?.[1];
    expect(bannerPub).toBeDefined();
    expect((await sh(bannerPub!)).code).toBe(0);
    const letters = json<{ value: unknown[] }>(await sh('twinloop dead-letters'));
    expect(letters.value).toHaveLength(1); // only the README's deliberate mistake

    // The effects that take a moment: the commanded pump stops; the faulty one is simulated again
    // and shadow mode follows it.
    const q = async (query: string) => json<Record<string, unknown>[]>(await sh(`twinloop query "${query}"`));
    let stopped = false;
    let back = false;
    for (let i = 0; i < 40 && !(stopped && back); i++) {
      stopped =
        (await q("SELECT T.\\$telemetry.running FROM DIGITALTWINS T WHERE T.\\$dtId = 'pump-3c'"))[0]
          ?.running === false;
      const a = (
        await q(
          "SELECT T.\\$telemetry.vibration, T.\\$telemetry.vibrationResidual FROM DIGITALTWINS T WHERE T.\\$dtId = 'pump-3a'",
        )
      )[0];
      back =
        typeof a?.vibration === 'number' && a.vibration !== 7.4 && typeof a.vibrationResidual === 'number';
      if (!(stopped && back)) await sleep(250);
    }
    expect(stopped).toBe(true);
    expect(back).toBe(true);
    // The command that waited for pump-3d's device went out when it came back, and was answered.
    let state = '';
    for (let i = 0; i < 40 && state !== 'succeeded'; i++) {
      const listed = json<{ requestId: string; state: string }[]>(await sh('twinloop commands pump-3d'));
      state = listed.find((c) => c.requestId === queuedFor3d)?.state ?? '';
      if (state !== 'succeeded') await sleep(250);
    }
    expect(state).toBe('succeeded');
  }, 240_000);
});
