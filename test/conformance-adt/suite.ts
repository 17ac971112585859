/**
 * The checks' process, started by run.ts with NODE_EXTRA_CA_CERTS naming the server's self-signed
 * certificate (the SDK and fetch then trust it; nothing turns verification off). Reads the server's
 * URL and token from the environment, runs the checks and prints one JSON line: the results.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DigitalTwinsClient } from '@azure/digital-twins-core';
import type { TokenCredential } from '@azure/core-auth';
import { AREAS, Rest, onceMap, runChecks, type Area, type CheckContext } from './harness.js';
import { ALL_CHECKS } from './checks.js';
import { selfTestChecks } from './self-test.js';

async function main(): Promise<void> {
  const env = process.env;
  const url = env.CONFORMANCE_URL;
  const token = env.CONFORMANCE_TOKEN;
  const blobBase = env.CONFORMANCE_BLOB_URL;
  if (!url || !token || !blobBase)
    throw new Error('run through run.ts: CONFORMANCE_URL, _TOKEN and _BLOB_URL are missing');
  const areas = (env.CONFORMANCE_AREAS ?? '').split(',').filter(Boolean) as Area[];
  for (const a of areas)
    if (!(AREAS as readonly string[]).includes(a)) throw new Error(`unknown area '${a}'`);
  const credential: TokenCredential = {
    getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600e3 }),
  };
  const ctx: CheckContext = {
    rest: new Rest(url, token),
    sdk: new DigitalTwinsClient(url, credential),
    run: String(Date.now()),
    once: onceMap(),
    endpoint: env.CONFORMANCE_ENDPOINT || 'conformance',
    webhookUrl: blobBase.replace(/\/blobs$/, '/webhook'),
    async webhookEvents() {
      const res = await fetch(`${blobBase}/webhook-events`);
      return (await res.json()) as { headers: Record<string, unknown>; body: string }[];
    },
    async blob(name, text) {
      if (env.CONFORMANCE_BLOB_STYLE === 'file') {
        // file:// URLs into the run's temporary folder, for servers that read local files only.
        const dir = env.CONFORMANCE_BLOB_DIR ?? '';
        writeFileSync(path.join(dir, name), text);
        return {
          inputUri: pathToFileURL(path.join(dir, name)).href,
          outputUri: pathToFileURL(path.join(dir, `${name}.output`)).href,
        };
      }
      const inputUri = `${blobBase}/${encodeURIComponent(name)}`;
      const res = await fetch(inputUri, { method: 'PUT', body: text });
      if (res.status !== 201) throw new Error(`the local blob server answered ${res.status}`);
      return { inputUri, outputUri: `${blobBase}/${encodeURIComponent(`${name}.output`)}` };
    },
  };
  let checks = areas.length ? ALL_CHECKS.filter((c) => areas.includes(c.area)) : [...ALL_CHECKS];
  if (env.CONFORMANCE_SELF_TEST === '1') checks = [...selfTestChecks, ...checks];
  const results = await runChecks(checks, ctx);
  process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(2);
});
