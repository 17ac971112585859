/**
 * EventRouteStore on PostgreSQL: event routes and endpoints, the endpoint's secret (its auth
 * header's value) in a column of its own so it is never part of the settings that are echoed.
 */
import type { EventRouteStore, StoredEndpoint, StoredRoute } from '../../core/ports/event-routing.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { checkNoNul, jsonText } from './pg-values.js';

export const PG_EVENT_ROUTE_MIGRATIONS: PgComponentMigrations = {
  component: 'event-routes',
  migrations: [
    {
      version: 1,
      name: 'event routes and endpoints',
      sql: `CREATE TABLE event_routes (
              id text PRIMARY KEY,
              endpoint_name text NOT NULL,
              filter text NOT NULL
            );
            CREATE TABLE event_endpoints (
              name text PRIMARY KEY,
              spec json NOT NULL,
              secret text
            );`,
    },
  ],
};

export class PgEventRouteStore implements EventRouteStore {
  constructor(private readonly db: PgDatabase) {}

  async listRoutes(): Promise<StoredRoute[]> {
    const r = await this.db.query<{ id: string; endpoint_name: string; filter: string }>(
      'SELECT id, endpoint_name, filter FROM event_routes ORDER BY id COLLATE "C"',
    );
    return r.rows.map((x) => ({ id: x.id, endpointName: x.endpoint_name, filter: x.filter }));
  }

  async putRoute(route: StoredRoute): Promise<void> {
    checkNoNul('route id', route.id);
    checkNoNul('endpoint name', route.endpointName);
    checkNoNul('route filter', route.filter);
    await this.db.query(
      `INSERT INTO event_routes (id, endpoint_name, filter) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET endpoint_name = EXCLUDED.endpoint_name, filter = EXCLUDED.filter`,
      [route.id, route.endpointName, route.filter],
    );
  }

  async deleteRoute(id: string): Promise<boolean> {
    checkNoNul('route id', id);
    const r = await this.db.query('DELETE FROM event_routes WHERE id = $1', [id]);
    return (r.rowCount ?? 0) > 0;
  }

  async listEndpoints(): Promise<StoredEndpoint[]> {
    const r = await this.db.query<{ name: string; spec: Record<string, unknown>; secret: string | null }>(
      'SELECT name, spec, secret FROM event_endpoints ORDER BY name COLLATE "C"',
    );
    return r.rows.map((x) => ({
      name: x.name,
      spec: x.spec,
      ...(x.secret !== null ? { secret: x.secret } : {}),
    }));
  }

  async putEndpoint(e: StoredEndpoint): Promise<void> {
    checkNoNul('endpoint name', e.name);
    if (e.secret !== undefined) checkNoNul('endpoint secret', e.secret);
    await this.db.query(
      `INSERT INTO event_endpoints (name, spec, secret) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, secret = EXCLUDED.secret`,
      [e.name, jsonText(e.spec), e.secret ?? null],
    );
  }

  async deleteEndpoint(name: string): Promise<boolean> {
    checkNoNul('endpoint name', name);
    const r = await this.db.query('DELETE FROM event_endpoints WHERE name = $1', [name]);
    return (r.rowCount ?? 0) > 0;
  }
}
