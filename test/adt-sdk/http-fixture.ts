/**
 * Test support (not a test): a whole Twinloop HTTP server over the real parts (SQLite stores in a
 * temporary folder, DTDL registry, in-memory graph, ingest service) for the HTTP and SDK tests.
 */
import { Registry } from 'prom-client';
import { prometheusHttpMetrics } from '../../src/adapters/metrics/prometheus-http-metrics.js';
import { IngestService } from '../../src/core/telemetry/ingest-service.js';
import {
  createHttpServer,
  type HttpServer,
  type HttpServerOptions,
} from '../../src/adapters/http/http-server.js';
import { openTestWorkspace, type TestWorkspace } from './workspace-fixture.js';

export interface TestServer {
  w: TestWorkspace;
  http: HttpServer;
  metrics: Registry;
  close(): Promise<void>;
}

export async function startTestServer(options: Partial<HttpServerOptions> = {}): Promise<TestServer> {
  const w = await openTestWorkspace();
  const metrics = new Registry();
  const ingest = new IngestService({
    workspace: (name) => (name === 'default' ? { graph: w.graph, models: w.models } : undefined),
    history: w.storage.history,
    deadLetters: w.storage.deadLetters,
    live: w.live,
  });
  const http = await createHttpServer({
    workspace: { name: 'default', models: w.models, twins: w.twins, graph: w.graph },
    ingest,
    history: w.storage.history,
    deadLetters: w.storage.deadLetters,
    metrics: prometheusHttpMetrics(metrics),
    ...options,
  });
  return {
    w,
    http,
    metrics,
    async close() {
      await http.close();
      await w.close();
    },
  };
}
