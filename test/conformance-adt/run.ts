/**
 * `npm run conformance:adt`: Twinloop against the Azure Digital Twins data-plane API, as the spec and
 * the reference describe it. Starts a real `twinloop start` over HTTPS (a self-signed certificate made
 * with openssl, a token, a temporary data folder, ports from the OS), serves import files from a local
 * "blob" server, runs every check in a child process that trusts the certificate through
 * NODE_EXTRA_CA_CERTS, and prints a pass/fail table per area. Writes nothing into the repository.
 *
 *   npm run conformance:adt -- [--verbose] [--json] [--min 0.8|120|80%] [--area query,models]
 *                              [--endpoint NAME] [--twinloop-config FILE (default: twinloop-config.json here)]
 *                              [--blob-style http|file]
 *                              [--self-test] [--keep]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeSelfSignedCertificate } from '../support/tls-certificate.js';
import type { CheckResult } from './harness.js';
import { belowFloor, formatReport, parseFloor, summarise, type Floor } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const execFileP = promisify(execFile);

export interface RunOptions {
  verbose: boolean;
  json: boolean;
  floor?: Floor;
  areas: string[];
  endpoint?: string;
  twinloopConfig?: string;
  selfTest: boolean;
  keep: boolean;
  /** How import files are named in inputBlobUri: an http:// URL of the runner's blob server (default) or a file:// URL. */
  blobStyle: 'http' | 'file';
}

export function parseArgs(argv: readonly string[]): RunOptions | string {
  const o: RunOptions = {
    verbose: false,
    json: false,
    areas: [],
    selfTest: false,
    keep: false,
    blobStyle: 'http',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const value = (): string | undefined => argv[++i];
    if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--json') o.json = true;
    else if (a === '--self-test') o.selfTest = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--min') {
      const f = parseFloor(value() ?? '');
      if (!f) return '--min needs a fraction (0.8), a percentage (80%) or a number of checks (120)';
      o.floor = f;
    } else if (a === '--area') o.areas.push(...(value() ?? '').split(',').filter(Boolean));
    else if (a === '--endpoint') o.endpoint = value();
    else if (a === '--twinloop-config') o.twinloopConfig = value();
    else if (a === '--blob-style') {
      const v = value();
      if (v !== 'http' && v !== 'file') return '--blob-style is http or file';
      o.blobStyle = v;
    } else return `unknown argument '${a}'`;
  }
  return o;
}

/**
 * A stand-in for a storage blob: PUT stores a body, GET answers it (the import jobs' input and output);
 * and a webhook receiver for event routes, whose deliveries GET /blobs/webhook-events lists.
 */
async function startBlobServer(): Promise<{ url: string; webhookUrl: string; server: Server }> {
  const blobs = new Map<string, Buffer>();
  const events: { headers: Record<string, unknown>; body: string }[] = [];
  const server = createServer((req, res) => {
    const key = req.url ?? '/';
    if (key === '/blobs/webhook-events' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(events));
      return;
    }
    if (key.startsWith('/webhook')) {
      // The event-route endpoint a config file may declare (${CONFORMANCE_WEBHOOK_URL}): keeps what arrives.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST')
          events.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(req.method === 'POST' ? 200 : 204).end();
      });
      return;
    }
    if (req.method === 'PUT' || req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const prev = req.method === 'POST' ? (blobs.get(key) ?? Buffer.alloc(0)) : Buffer.alloc(0);
        blobs.set(key, Buffer.concat([prev, ...chunks]));
        res.writeHead(201).end();
      });
      return;
    }
    const b = blobs.get(key);
    if (req.method === 'GET' && b) res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(b);
    else if (req.method === 'HEAD' && b) res.writeHead(200, { 'content-length': b.length }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `${base}/blobs`, webhookUrl: `${base}/webhook`, server };
}

async function startTwinloop(
  dataDir: string,
  tls: { cert: string; key: string },
  config?: string,
): Promise<{ child: ChildProcess; url: string; token: string }> {
  const args = [
    '--import',
    'tsx',
    path.join(root, 'src/app/cli/main.ts'),
    'start',
    '--data',
    dataDir,
    '--host',
    '127.0.0.1',
    '--http-port',
    '0',
    '--mqtt-port',
    '0',
    '--tls-cert',
    tls.cert,
    '--tls-key',
    tls.key,
    '--auth',
    'on',
    '--no-pilot',
    '--no-sim',
    '--log-level',
    'warn',
    ...(config ? ['--config', config] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const file = path.join(dataDir, 'runtime.json');
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (existsSync(file)) {
      try {
        const info = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; httpUrl: string };
        const token = readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
        if (info.pid === child.pid) return { child, url: info.httpUrl, token };
      } catch {
        // written atomically, but the token may come a moment later: look again
      }
    }
    if (child.exitCode !== null) throw new Error(`twinloop exited (${child.exitCode}): ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`twinloop did not start within 60 s: ${stderr}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

export interface RunOutcome {
  code: number;
  results: CheckResult[];
  selfTest: CheckResult[];
  text: string;
}

export async function runConformance(o: RunOptions): Promise<RunOutcome> {
  const t0 = performance.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'twinloop-adt-conformance-'));
  const dataDir = path.join(dir, 'data');
  const blob = await startBlobServer();
  let twinloop: ChildProcess | undefined;
  try {
    const tls = makeSelfSignedCertificate(dir);
    let config: string | undefined;
    // The shipped config declares the webhook endpoint `conformance` at the runner's own receiver.
    const configFile = o.twinloopConfig ?? path.join(here, 'twinloop-config.json');
    {
      // The config may name the runner's webhook receiver as an endpoint: ${CONFORMANCE_WEBHOOK_URL}.
      config = path.join(dir, 'twinloop-config.json');
      const text = readFileSync(path.resolve(configFile), 'utf8');
      writeFileSync(config, text.replaceAll('${CONFORMANCE_WEBHOOK_URL}', blob.webhookUrl));
    }
    const started = await startTwinloop(dataDir, tls, config);
    twinloop = started.child;
    const { stdout } = await execFileP(process.execPath, ['--import', 'tsx', path.join(here, 'suite.ts')], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 10 * 60_000,
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: tls.cert,
        CONFORMANCE_URL: started.url,
        CONFORMANCE_TOKEN: started.token,
        CONFORMANCE_BLOB_URL: blob.url,
        CONFORMANCE_AREAS: o.areas.join(','),
        CONFORMANCE_ENDPOINT: o.endpoint ?? '',
        CONFORMANCE_SELF_TEST: o.selfTest ? '1' : '0',
        CONFORMANCE_BLOB_STYLE: o.blobStyle,
        CONFORMANCE_BLOB_DIR: dir,
      },
    });
    const all = JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as CheckResult[];
    const selfTest = all.filter((r) => r.source === 'runner self-test');
    const results = all.filter((r) => r.source !== 'runner self-test');
    const report = summarise(started.url, results, (performance.now() - t0) / 1000);
    const why = o.floor ? belowFloor(report, o.floor) : undefined;
    const text = o.json ? JSON.stringify({ ...report, selfTest }, null, 2) : formatReport(report, o.verbose);
    return { code: why ? 1 : 0, results, selfTest, text: why ? `${text}\n${why}` : text };
  } finally {
    if (twinloop) await stop(twinloop);
    await new Promise((r) => blob.server.close(r));
    if (o.keep) console.error(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2));
  if (typeof o === 'string') {
    console.error(o);
    process.exit(2);
  }
  runConformance(o).then(
    (r) => {
      console.log(r.text);
      process.exit(r.code);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(2);
    },
  );
}
