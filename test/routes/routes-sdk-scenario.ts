/**
 * Run in a child process by routes-sdk.int.test.ts (NODE_EXTRA_CA_CERTS trusts the test's
 * certificate): the official SDK's four event-route methods against Twinloop over HTTPS.
 * Prints one JSON line of observations.
 */
import { DigitalTwinsClient } from '@azure/digital-twins-core';
import type { TokenCredential } from '@azure/core-auth';

const [url, token] = process.argv.slice(2);
if (!url || !token) throw new Error('usage: routes-sdk-scenario.ts <https url> <token>');
const credential: TokenCredential = {
  getToken: async () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3600e3 }),
};
const client = new DigitalTwinsClient(url, credential);
const out: Record<string, unknown> = {};

async function status(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    const x = e as { statusCode?: number; code?: string };
    return [x.statusCode, x.code];
  }
}

async function main(): Promise<void> {
  out.upsert = await status(
    client.upsertEventRoute('sdk-route-1', 'hook', "type = 'Microsoft.DigitalTwins.Twin.Create'"),
  );
  out.upsert2 = await status(client.upsertEventRoute('sdk-route-2', 'hook', 'false'));
  const got = await client.getEventRoute('sdk-route-1');
  out.got = { id: got.id, endpointName: got.endpointName, filter: got.filter };
  const ids: string[] = [];
  let pages = 0;
  // As with listModels, the SDK sends max-items-per-page only when byPage gets maxPageSize too.
  for await (const page of client.listEventRoutes(1).byPage({ maxPageSize: 1 })) {
    pages++;
    for (const r of page.value ?? []) ids.push(r.id!);
  }
  out.listed = ids.sort();
  out.pages = pages;
  out.badFilter = await status(client.upsertEventRoute('sdk-route-3', 'hook', "type = 'x' OR"));
  out.badEndpoint = await status(client.upsertEventRoute('sdk-route-3', 'nope', 'true'));
  out.delete = await status(client.deleteEventRoute('sdk-route-2'));
  out.getDeleted = await status(client.getEventRoute('sdk-route-2'));
  out.deleteAgain = await status(client.deleteEventRoute('sdk-route-2'));
  console.log(JSON.stringify(out));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
