/**
 * Event routes (ADT's `/eventroutes`) and endpoints (a Twinloop extension), and the journal that
 * turns changes into outbox rows: each change's events are matched against the routes in memory
 * and handed, for every endpoint a route sends them to, to the write's own commit (TwinStore.commit
 * for twins and relationships, the history group commit for telemetry). Events that no route wants are not written at all: with no routes a
 * write costs nothing more, and telemetry is journaled only while some route could match it.
 *
 * Two routes to one endpoint deliver an event once. Endpoints and routes from the config file are
 * fixed (they cannot be changed or deleted through the API).
 *
 * On a cluster every node journals its own writes with the routes it holds in memory: a node that
 * changed a route or endpoint says so (`onChanged`), the others `load()` again from the shared store.
 */
import { TwinloopError, errors, type Problem } from '../errors/errors.js';
import type { TwinRecord } from '../graph/graph-types.js';
import type { EventRouteStore, OutboxRow, StoredRoute } from '../ports/event-routing.js';
import type { AlarmEvent } from '../alarms/alarm.js';
import type { CommandRecord } from '../ports/command-store.js';
import { commandToJson } from '../control/command-json.js';
import {
  EVENT_TYPES,
  alarmRoutedEvent,
  commandRoutedEvent,
  eventsOf,
  filterInputOf,
  telemetryEvent,
  type Change,
  type RoutedEvent,
  type TelemetryChange,
} from './change-events.js';
import { ENDPOINT_NAME, checkEndpoint, endpointView, type EndpointSpec } from './endpoint-spec.js';
import { DEFAULT_FILTER_BUDGET, parseFilter, type FilterBudget, type FilterNode } from './route-filter.js';
import { couldMatch, matchesFilter } from './route-filter-eval.js';

export const ROUTE_ID = /^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$/;

export interface ConfiguredEndpoint {
  name: string;
  spec: EndpointSpec;
  secret?: string;
}

export interface EventRouteServiceOptions {
  store: EventRouteStore;
  /** The CloudEvent source of this instance (its host name). */
  source: string;
  endpoints?: readonly ConfiguredEndpoint[];
  routes?: readonly StoredRoute[];
  maxRoutes?: number;
  maxEndpoints?: number;
  filterBudget?: FilterBudget;
  newId?: () => string;
  now?: () => number;
  isComponent?: (twin: TwinRecord, name: string) => boolean;
  /** Told after a commit that carried outbox rows (wakes the delivery). */
  onRecorded?: () => void;
  /** Told when endpoints change (the senders follow). */
  onEndpointsChanged?: () => void;
  /** Told after this node stored a route or endpoint change (a cluster tells the other nodes). */
  onChanged?: () => void;
}

interface CompiledRoute extends StoredRoute {
  ast: FilterNode;
  origin: 'config' | 'api';
}

interface EndpointEntry extends ConfiguredEndpoint {
  origin: 'config' | 'api';
}

export class EventRouteService {
  private routes = new Map<string, CompiledRoute>();
  private endpoints = new Map<string, EndpointEntry>();
  private telemetryWanted = false;
  /** Counts this node's route and endpoint writes (start and end): a load that raced one reads again. */
  private writes = 0;
  private readonly budget: FilterBudget;
  private readonly newId: () => string;
  private readonly now: () => number;

  constructor(private readonly o: EventRouteServiceOptions) {
    this.budget = o.filterBudget ?? DEFAULT_FILTER_BUDGET;
    this.newId = o.newId ?? (() => globalThis.crypto.randomUUID());
    this.now = o.now ?? Date.now;
  }

  /**
   * Loads the stored routes and endpoints, with the configured ones (which win): at start, and
   * again when another node of a cluster changed them (what the store no longer has goes).
   */
  async load(): Promise<void> {
    for (;;) {
      const before = this.writes;
      const [storedEndpoints, storedRoutes] = await Promise.all([
        this.o.store.listEndpoints(),
        this.o.store.listRoutes(),
      ]);
      if (this.writes !== before) continue; // this node wrote meanwhile: read what it wrote too
      const endpoints = new Map<string, EndpointEntry>();
      for (const e of storedEndpoints) {
        const c = checkEndpoint(e.spec);
        if ('problems' in c) continue; // a stored endpoint is always valid; never crash on one that is not
        endpoints.set(e.name, {
          name: e.name,
          spec: c.spec,
          ...(e.secret ? { secret: e.secret } : {}),
          origin: 'api',
        });
      }
      for (const e of this.o.endpoints ?? []) endpoints.set(e.name, { ...e, origin: 'config' });
      const routes = new Map<string, CompiledRoute>();
      for (const r of storedRoutes) {
        try {
          routes.set(r.id, { ...r, ast: parseFilter(r.filter, this.budget), origin: 'api' });
        } catch {
          // stored filters were valid when stored
        }
      }
      for (const r of this.o.routes ?? [])
        routes.set(r.id, { ...r, ast: parseFilter(r.filter, this.budget), origin: 'config' });
      const hadEndpoints = this.endpoints.size > 0;
      this.endpoints = endpoints;
      this.routes = routes;
      this.recompute();
      if (hadEndpoints) this.o.onEndpointsChanged?.();
      return;
    }
  }

  // ---------------------------------------------------------------- routes (ADT)

  listRoutes(): StoredRoute[] {
    return [...this.routes.values()].map(routeView);
  }

  /** @throws EventRouteNotFound */
  getRoute(id: string): StoredRoute {
    const r = this.routes.get(id);
    if (!r) throw routeNotFound(id);
    return routeView(r);
  }

  /**
   * Adds or replaces a route from ADT's body `{ endpointName, filter }`.
   * @throws EventRouteIdInvalid, EventRouteEndpointInvalid, EventRouteFilterInvalid, LimitExceeded
   */
  async putRoute(id: string, body: unknown): Promise<void> {
    if (!ROUTE_ID.test(id))
      throw new TwinloopError(
        'EventRouteIdInvalid',
        'The event route id must be 1 to 128 letters, digits, -, _, . or ~, starting with a letter or digit.',
      );
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw errors.validation('BadRequest', 'The event route must be a JSON object.', [
        { code: 'route.notObject', message: 'Expected { "endpointName": ..., "filter": ... }.', pointer: '' },
      ]);
    const b = body as Record<string, unknown>;
    if (b.id !== undefined && b.id !== id)
      throw new TwinloopError(
        'EventRouteIdInvalid',
        `The body's id '${String(b.id)}' differs from the route id '${id}'.`,
      );
    if (typeof b.endpointName !== 'string' || !this.endpoints.has(b.endpointName))
      throw new TwinloopError(
        'EventRouteEndpointInvalid',
        typeof b.endpointName === 'string'
          ? `There is no endpoint named '${b.endpointName.slice(0, 100)}' (see GET /endpoints).`
          : 'endpointName must name an endpoint (see GET /endpoints).',
      );
    if (b.filter === undefined)
      throw new TwinloopError(
        'EventRouteFilterInvalid',
        "The event route needs a filter ('true' routes every event).",
      );
    const ast = parseFilter(b.filter, this.budget);
    const existing = this.routes.get(id);
    if (existing?.origin === 'config')
      throw new TwinloopError(
        'Conflict',
        `Event route '${id}' is declared in the config file and cannot be changed here.`,
      );
    if (!existing && this.routes.size >= (this.o.maxRoutes ?? 100))
      throw new TwinloopError(
        'LimitExceeded',
        `There are already ${this.routes.size} event routes, the most allowed (eventRoutes.maxRoutes).`,
      );
    const route: StoredRoute = { id, endpointName: b.endpointName, filter: b.filter as string };
    await this.stored(() => this.o.store.putRoute(route));
    this.routes.set(id, { ...route, ast, origin: 'api' });
    this.recompute();
    this.o.onChanged?.();
  }

  /** @throws EventRouteNotFound */
  async deleteRoute(id: string): Promise<void> {
    const r = this.routes.get(id);
    if (!r) throw routeNotFound(id);
    if (r.origin === 'config')
      throw new TwinloopError(
        'Conflict',
        `Event route '${id}' is declared in the config file and cannot be deleted here.`,
      );
    await this.stored(() => this.o.store.deleteRoute(id));
    this.routes.delete(id);
    this.recompute();
    this.o.onChanged?.();
  }

  // ---------------------------------------------------------------- endpoints (extension)

  listEndpoints(): Record<string, unknown>[] {
    return [...this.endpoints.values()].map((e) =>
      endpointView(e.name, e.spec, e.secret !== undefined, e.origin),
    );
  }

  /** @throws EndpointNotFound */
  getEndpoint(name: string): Record<string, unknown> {
    const e = this.endpoints.get(name);
    if (!e) throw endpointNotFound(name);
    return endpointView(e.name, e.spec, e.secret !== undefined, e.origin);
  }

  /** The endpoint with its secret, for the senders only. */
  endpointFor(name: string): ConfiguredEndpoint | undefined {
    return this.endpoints.get(name);
  }

  endpointNames(): string[] {
    return [...this.endpoints.keys()];
  }

  /**
   * Adds or replaces an endpoint. An auth header given without a value keeps the stored secret.
   * @throws InvalidEndpoint (every problem), LimitExceeded, Conflict (declared in the config file)
   */
  async putEndpoint(name: string, body: unknown): Promise<void> {
    if (!ENDPOINT_NAME.test(name))
      throw new TwinloopError(
        'InvalidEndpoint',
        'The endpoint name must be 1 to 64 letters, digits, -, _ or ., starting with a letter or digit.',
      );
    const c = checkEndpoint(body);
    if ('problems' in c)
      throw errors.validation('InvalidEndpoint', `Endpoint '${name}' is not valid.`, c.problems);
    if (
      typeof body === 'object' &&
      body !== null &&
      'name' in body &&
      (body as { name: unknown }).name !== name
    )
      throw new TwinloopError('InvalidEndpoint', `The body's name differs from the endpoint name '${name}'.`);
    const existing = this.endpoints.get(name);
    if (existing?.origin === 'config')
      throw new TwinloopError(
        'Conflict',
        `Endpoint '${name}' is declared in the config file and cannot be changed here.`,
      );
    if (!existing && this.endpoints.size >= (this.o.maxEndpoints ?? 100))
      throw new TwinloopError(
        'LimitExceeded',
        `There are already ${this.endpoints.size} endpoints, the most allowed.`,
      );
    let secret = c.secret;
    const header = c.spec.type === 'webhook' ? c.spec.authHeader : undefined;
    if (
      secret === undefined &&
      header !== undefined &&
      existing?.spec.type === 'webhook' &&
      existing.spec.authHeader === header
    )
      secret = existing.secret;
    await this.stored(() =>
      this.o.store.putEndpoint({
        name,
        spec: c.spec as unknown as Record<string, unknown>,
        ...(secret ? { secret } : {}),
      }),
    );
    this.endpoints.set(name, { name, spec: c.spec, ...(secret ? { secret } : {}), origin: 'api' });
    this.o.onEndpointsChanged?.();
    this.o.onChanged?.();
  }

  /** @throws EndpointNotFound, EndpointInUse (a route sends to it), Conflict (from the config file) */
  async deleteEndpoint(name: string): Promise<void> {
    const e = this.endpoints.get(name);
    if (!e) throw endpointNotFound(name);
    if (e.origin === 'config')
      throw new TwinloopError(
        'Conflict',
        `Endpoint '${name}' is declared in the config file and cannot be deleted here.`,
      );
    const user = [...this.routes.values()].find((r) => r.endpointName === name);
    if (user)
      throw new TwinloopError(
        'EndpointInUse',
        `Endpoint '${name}' is used by event route '${user.id}': delete the route first.`,
      );
    await this.stored(() => this.o.store.deleteEndpoint(name));
    this.endpoints.delete(name);
    this.o.onEndpointsChanged?.();
    this.o.onChanged?.();
  }

  /** A store write of this node, counted before and after (a load that overlapped it reads again). */
  private async stored<T>(write: () => Promise<T>): Promise<T> {
    this.writes++;
    try {
      return await write();
    } finally {
      this.writes++;
    }
  }

  // ---------------------------------------------------------------- the journal

  /** The endpoints an event goes to (each once). */
  endpointsFor(event: RoutedEvent): string[] {
    if (this.routes.size === 0) return [];
    const input = filterInputOf(event);
    const out = new Set<string>();
    for (const r of this.routes.values())
      if (!out.has(r.endpointName) && matchesFilter(r.ast, input)) out.add(r.endpointName);
    return [...out];
  }

  /** True when some route could route telemetry (then ingest journals it). */
  wantsTelemetry(): boolean {
    return this.telemetryWanted;
  }

  /** The outbox rows of a change, for its commit (none when no route wants its events). */
  outboxRowsOf(change: Change): OutboxRow[] {
    if (this.routes.size === 0) return [];
    return this.rowsOf(eventsOf(change, this.factory()));
  }

  /** Told after a commit that carried outbox rows. */
  committed(): void {
    this.o.onRecorded?.();
  }

  /** The outbox rows of accepted readings, handed to the history append that stores them. */
  telemetryRows(changes: readonly TelemetryChange[]): OutboxRow[] {
    if (!this.telemetryWanted) return [];
    const f = this.factory();
    return this.rowsOf(changes.map((t) => telemetryEvent(t, f)));
  }

  /** The outbox rows of alarm transitions, written with the alarms (none when no route wants them). */
  alarmRows(events: readonly AlarmEvent[]): OutboxRow[] {
    if (this.routes.size === 0) return [];
    const f = this.factory();
    return this.rowsOf(events.map((e) => alarmRoutedEvent(e, f)));
  }

  /** The outbox rows of command steps, written with the commands (none when no route wants them). */
  commandRows(commands: readonly CommandRecord[]): OutboxRow[] {
    if (this.routes.size === 0) return [];
    const f = this.factory();
    return this.rowsOf(
      commands.map((c) =>
        commandRoutedEvent(
          {
            requestId: c.requestId,
            twinId: c.twinId,
            state: c.state,
            time: c.steps.at(-1)?.at ?? c.createdAt,
            data: commandToJson(c),
          },
          f,
        ),
      ),
    );
  }

  private factory() {
    return {
      source: this.o.source,
      newId: this.newId,
      now: this.now,
      ...(this.o.isComponent ? { isComponent: this.o.isComponent } : {}),
    };
  }

  private rowsOf(events: readonly RoutedEvent[]): OutboxRow[] {
    const rows: OutboxRow[] = [];
    const created = this.now();
    for (const event of events)
      for (const endpoint of this.endpointsFor(event))
        rows.push({ endpoint, orderKey: event.twinId, event, created });
    return rows;
  }

  private recompute(): void {
    const known = { type: EVENT_TYPES.telemetry, specversion: '1.0', datacontenttype: 'application/json' };
    this.telemetryWanted = [...this.routes.values()].some((r) => couldMatch(r.ast, known));
  }
}

function routeView(r: StoredRoute): StoredRoute {
  return { id: r.id, endpointName: r.endpointName, filter: r.filter };
}

function routeNotFound(id: string): TwinloopError {
  return new TwinloopError('EventRouteNotFound', `There is no event route with id '${id.slice(0, 200)}'.`);
}

function endpointNotFound(name: string): TwinloopError {
  return new TwinloopError('EndpointNotFound', `There is no endpoint named '${name.slice(0, 200)}'.`);
}

/** Problems of configured routes (for the config check). */
export function checkConfiguredRoute(r: unknown, at: string, endpoints: ReadonlySet<string>): Problem[] {
  const problems: Problem[] = [];
  if (typeof r !== 'object' || r === null)
    return [{ code: 'route.notObject', message: `${at}: not an object`, pointer: at }];
  const x = r as Record<string, unknown>;
  if (typeof x.id !== 'string' || !ROUTE_ID.test(x.id))
    problems.push({ code: 'route.id', message: `${at}/id: not a valid event route id`, pointer: `${at}/id` });
  if (typeof x.endpointName !== 'string' || !endpoints.has(x.endpointName))
    problems.push({
      code: 'route.endpoint',
      message: `${at}/endpointName: names no configured endpoint`,
      pointer: `${at}/endpointName`,
    });
  try {
    parseFilter(x.filter);
  } catch (e) {
    problems.push({
      code: 'route.filter',
      message: `${at}/filter: ${(e as Error).message}`,
      pointer: `${at}/filter`,
    });
  }
  return problems;
}
