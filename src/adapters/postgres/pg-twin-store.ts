/**
 * TwinStore on PostgreSQL: twins and relationships keyed by (workspace, id), contents, property
 * times and properties as `json` (kept as written: key order, `__proto__` keys and `\u0000`
 * escapes survive; nothing in PostgreSQL queries inside them).
 *
 * commit() runs every op of every write in one transaction (db.transaction), in order, with the
 * etag expectations checked by the statements themselves, so they hold against other nodes too:
 * expect null is `INSERT ... ON CONFLICT DO NOTHING` (no row inserted: it exists), expect an etag
 * is `UPDATE/DELETE ... WHERE etag = $n` (no row: changed or gone), and a concurrent writer of the
 * same row waits on its row lock and re-checks. A failed expectation rolls everything back
 * (PreconditionFailed). Runs of creates (expect null) and of unconditional puts of distinct ids
 * are written by one multi-row statement (unnest), which is what keeps imports fast.
 *
 * loadTwins/loadRelationships page through the rows in key order (bounded memory). Telemetry last
 * values come from the history store when `loadTelemetry` is given (the composition wires it to
 * the PostgreSQL history store), else twins load without them.
 */
import type pg from 'pg';
import { TwinloopError } from '../../core/errors/errors.js';
import {
  desiredPart,
  devicePart,
  mergeDeviceParts,
  type DesiredPart,
  type DevicePart,
} from '../../core/graph/device-state-parts.js';
import type { RelationshipRecord, TwinRecord } from '../../core/graph/graph-types.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import type { TwinStore, TwinStoreOp, TwinWrite } from '../../core/ports/storage-ports.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { checkNoNul, jsonText } from './pg-values.js';

export const PG_TWIN_MIGRATIONS: PgComponentMigrations = {
  component: 'twins',
  migrations: [
    {
      version: 1,
      name: 'twins and relationships',
      sql: `CREATE TABLE twins (
              workspace text NOT NULL,
              id text NOT NULL,
              model_id text NOT NULL,
              etag text NOT NULL,
              last_update bigint NOT NULL,
              contents json NOT NULL,
              property_times json NOT NULL,
              source_times json,
              PRIMARY KEY (workspace, id)
            );
            CREATE TABLE relationships (
              workspace text NOT NULL,
              source_id text NOT NULL,
              id text NOT NULL,
              target_id text NOT NULL,
              name text NOT NULL,
              etag text NOT NULL,
              last_update bigint NOT NULL,
              properties json NOT NULL,
              PRIMARY KEY (workspace, source_id, id)
            );
            CREATE INDEX relationships_by_target ON relationships (workspace, target_id);`,
    },
    {
      version: 2,
      name: 'twins: the device side (desired version, reported values, presence)',
      // The device state in its two parts (core/graph/device-state-parts.ts), NULL until there is
      // one: desired (written with the twin), device (written alone, kept by writes of the twin).
      sql: 'ALTER TABLE twins ADD COLUMN desired json, ADD COLUMN device json;',
    },
  ],
};

export interface PgTwinStoreOptions {
  /** Inserts a commit's outbox rows in its transaction (the PgEventOutbox of the database). */
  outbox?: { insertRows(client: pg.PoolClient, rows: readonly OutboxRow[]): Promise<void> };
  /** Deletes the twin's history in the commit's transaction (the PostgreSQL history store). */
  onDeleteTwin?: (client: pg.PoolClient, workspace: string, id: string) => Promise<void>;
  /** Latest telemetry of these twins, by twin id (the PostgreSQL history store). */
  loadTelemetry?: (
    workspace: string,
    twinIds: readonly string[],
  ) => Promise<Map<string, TwinRecord['telemetry']>>;
  /** Rows per page while loading (default 1000). */
  pageSize?: number;
  /** Most rows in one multi-row statement (default 500). */
  maxRowsPerStatement?: number;
}

interface TwinRowDb {
  workspace: string;
  id: string;
  model_id: string;
  etag: string;
  last_update: number;
  contents: Record<string, unknown>;
  property_times: Record<string, number>;
  source_times: Record<string, string> | null;
  desired: DesiredPart | null;
  device: DevicePart | null;
}

interface RelRowDb {
  workspace: string;
  source_id: string;
  id: string;
  target_id: string;
  name: string;
  etag: string;
  last_update: number;
  properties: Record<string, unknown>;
}

type PutTwin = Extract<TwinStoreOp, { op: 'putTwin' }>;
type PutRel = Extract<TwinStoreOp, { op: 'putRelationship' }>;

const TWIN_COLUMNS =
  'workspace, id, model_id, etag, last_update, contents, property_times, source_times, desired, device';
const REL_COLUMNS = 'workspace, source_id, id, target_id, name, etag, last_update, properties';

export class PgTwinStore implements TwinStore {
  private readonly pageSize: number;
  private readonly maxRows: number;

  constructor(
    private readonly db: PgDatabase,
    private readonly options: PgTwinStoreOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 1000;
    this.maxRows = options.maxRowsPerStatement ?? 500;
  }

  async *loadTwins(workspace: string): AsyncIterable<TwinRecord> {
    checkNoNul('workspace', workspace);
    let after: string | undefined;
    for (;;) {
      const r = await this.db.query<TwinRowDb>(
        after === undefined
          ? `SELECT ${TWIN_COLUMNS} FROM twins WHERE workspace = $1 ORDER BY id LIMIT $2`
          : `SELECT ${TWIN_COLUMNS} FROM twins WHERE workspace = $1 AND id > $3 ORDER BY id LIMIT $2`,
        after === undefined ? [workspace, this.pageSize] : [workspace, this.pageSize, after],
      );
      const telemetry = this.options.loadTelemetry
        ? await this.options.loadTelemetry(
            workspace,
            r.rows.map((t) => t.id),
          )
        : undefined;
      for (const t of r.rows) {
        const twin: TwinRecord = {
          id: t.id,
          modelId: t.model_id,
          workspace: t.workspace,
          etag: t.etag,
          lastUpdateTime: t.last_update,
          contents: t.contents,
          propertyTimes: t.property_times,
          telemetry: telemetry?.get(t.id) ?? {},
        };
        if (t.source_times !== null) twin.sourceTimes = t.source_times;
        const state = mergeDeviceParts(t.desired, t.device);
        if (state) twin.device = state;
        yield twin;
      }
      if (r.rows.length < this.pageSize) return;
      after = r.rows[r.rows.length - 1]!.id;
    }
  }

  async *loadRelationships(workspace: string): AsyncIterable<RelationshipRecord> {
    checkNoNul('workspace', workspace);
    let after: [string, string] | undefined;
    for (;;) {
      const r = await this.db.query<RelRowDb>(
        after === undefined
          ? `SELECT ${REL_COLUMNS} FROM relationships WHERE workspace = $1 ORDER BY source_id, id LIMIT $2`
          : `SELECT ${REL_COLUMNS} FROM relationships WHERE workspace = $1 AND (source_id, id) > ($3, $4)
             ORDER BY source_id, id LIMIT $2`,
        after === undefined ? [workspace, this.pageSize] : [workspace, this.pageSize, ...after],
      );
      for (const x of r.rows) {
        yield {
          id: x.id,
          sourceId: x.source_id,
          targetId: x.target_id,
          name: x.name,
          workspace: x.workspace,
          etag: x.etag,
          lastUpdateTime: x.last_update,
          properties: x.properties,
        };
      }
      if (r.rows.length < this.pageSize) return;
      const last = r.rows[r.rows.length - 1]!;
      after = [last.source_id, last.id];
    }
  }

  async commit(writes: readonly TwinWrite[]): Promise<void> {
    const ops = writes.flatMap((w) => w.ops);
    const rows = writes.flatMap((w) => w.outbox ?? []);
    if (ops.length === 0 && rows.length === 0) return;
    for (const op of ops) checkOp(op);
    await this.db.transaction(async (c) => {
      try {
        for (let i = 0; i < ops.length;) i = await this.applyFrom(c, ops, i);
        if (rows.length) {
          if (!this.options.outbox)
            throw new TwinloopError('StorageError', 'This twin store has no event outbox to write to.');
          await this.options.outbox.insertRows(c, rows);
        }
      } catch (e) {
        throw invalidValue(e);
      }
    });
  }

  /** Applies ops[i] (and the run of like ops after it, where one statement can take them); returns the next index. */
  private async applyFrom(c: pg.PoolClient, ops: readonly TwinStoreOp[], i: number): Promise<number> {
    const op = ops[i]!;
    switch (op.op) {
      case 'putTwin': {
        if (op.expectEtag === null || op.expectEtag === undefined) {
          const run = this.runOf(
            ops,
            i,
            (o): o is PutTwin => o.op === 'putTwin' && o.expectEtag === op.expectEtag,
          );
          await this.putTwins(c, run, op.expectEtag === null);
          return i + run.length;
        }
        const t = op.twin;
        const r = await c.query(
          `UPDATE twins SET model_id = $3, etag = $4, last_update = $5, contents = $6, property_times = $7,
             source_times = $8, desired = $9
           WHERE workspace = $1 AND id = $2 AND etag = $10`,
          // not the device part (the 10th value): a write of the twin keeps the stored one
          [...twinValues(t).slice(0, 9), op.expectEtag],
        );
        if (r.rowCount === 0) throw changed(`Digital twin '${t.id}'`);
        return i + 1;
      }
      case 'putDeviceState':
        await c.query('UPDATE twins SET device = $3 WHERE workspace = $1 AND id = $2', [
          op.workspace,
          op.id,
          jsonText(devicePart(op.device)),
        ]);
        return i + 1;
      case 'deleteTwin': {
        const { workspace, id } = op;
        if (typeof op.expectEtag === 'string') {
          const r = await c.query('DELETE FROM twins WHERE workspace = $1 AND id = $2 AND etag = $3', [
            workspace,
            id,
            op.expectEtag,
          ]);
          if (r.rowCount === 0) throw changed(`Digital twin '${id}'`);
        } else if (op.expectEtag === null) {
          const r = await c.query('SELECT 1 FROM twins WHERE workspace = $1 AND id = $2 FOR UPDATE', [
            workspace,
            id,
          ]);
          if (r.rowCount) throw exists(`Digital twin '${id}'`);
        } else {
          await c.query('DELETE FROM twins WHERE workspace = $1 AND id = $2', [workspace, id]);
        }
        await c.query(
          'DELETE FROM relationships WHERE workspace = $1 AND (source_id = $2 OR target_id = $2)',
          [workspace, id],
        );
        await this.options.onDeleteTwin?.(c, workspace, id);
        return i + 1;
      }
      case 'putRelationship': {
        if (op.expectEtag === null || op.expectEtag === undefined) {
          const run = this.runOf(
            ops,
            i,
            (o): o is PutRel => o.op === 'putRelationship' && o.expectEtag === op.expectEtag,
          );
          await this.putRelationships(c, run, op.expectEtag === null);
          return i + run.length;
        }
        const x = op.rel;
        const r = await c.query(
          `UPDATE relationships SET target_id = $4, name = $5, etag = $6, last_update = $7, properties = $8
           WHERE workspace = $1 AND source_id = $2 AND id = $3 AND etag = $9`,
          [...relValues(x), op.expectEtag],
        );
        if (r.rowCount === 0) throw changed(`Relationship '${x.id}'`);
        return i + 1;
      }
      case 'deleteRelationship': {
        const args = [op.workspace, op.sourceId, op.relId];
        const where = 'workspace = $1 AND source_id = $2 AND id = $3';
        if (typeof op.expectEtag === 'string') {
          const r = await c.query(`DELETE FROM relationships WHERE ${where} AND etag = $4`, [
            ...args,
            op.expectEtag,
          ]);
          if (r.rowCount === 0) throw changed(`Relationship '${op.relId}'`);
        } else if (op.expectEtag === null) {
          const r = await c.query(`SELECT 1 FROM relationships WHERE ${where} FOR UPDATE`, args);
          if (r.rowCount) throw exists(`Relationship '${op.relId}'`);
        } else {
          await c.query(`DELETE FROM relationships WHERE ${where}`, args);
        }
        return i + 1;
      }
    }
  }

  /**
   * The run of ops from i that pass `like`, up to maxRows; unconditional puts stop before an id
   * repeats (one upsert statement cannot touch a row twice).
   */
  private runOf<T extends TwinStoreOp>(
    ops: readonly TwinStoreOp[],
    i: number,
    like: (o: TwinStoreOp) => o is T,
  ): T[] {
    const run: T[] = [];
    const seen = new Set<string>();
    for (let j = i; j < ops.length && run.length < this.maxRows; j++) {
      const o = ops[j]!;
      if (!like(o)) break;
      const op: TwinStoreOp = o;
      const key =
        op.op === 'putTwin'
          ? `${op.twin.workspace}\u0000${op.twin.id}`
          : op.op === 'putRelationship'
            ? `${op.rel.workspace}\u0000${op.rel.sourceId}\u0000${op.rel.id}`
            : '';
      if (seen.has(key)) break;
      seen.add(key);
      run.push(o);
    }
    return run;
  }

  private async putTwins(c: pg.PoolClient, run: readonly PutTwin[], create: boolean): Promise<void> {
    const cols = twinValues(run[0]!.twin).map((_, k) => run.map((o) => twinValues(o.twin)[k]));
    const r = await c.query(
      `INSERT INTO twins (${TWIN_COLUMNS})
       SELECT ${TWIN_COLUMNS}
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::json[], $7::json[], $8::json[], $9::json[], $10::json[])
         AS t(${TWIN_COLUMNS})
       ON CONFLICT (workspace, id) DO ${
         create
           ? 'NOTHING'
           : `UPDATE SET model_id = EXCLUDED.model_id, etag = EXCLUDED.etag, last_update = EXCLUDED.last_update,
                contents = EXCLUDED.contents, property_times = EXCLUDED.property_times,
                source_times = EXCLUDED.source_times, desired = EXCLUDED.desired`
       }`,
      cols,
    );
    if (create && r.rowCount !== run.length) throw exists('A digital twin of this write');
  }

  private async putRelationships(c: pg.PoolClient, run: readonly PutRel[], create: boolean): Promise<void> {
    const cols = relValues(run[0]!.rel).map((_, k) => run.map((o) => relValues(o.rel)[k]));
    const r = await c.query(
      `INSERT INTO relationships (${REL_COLUMNS})
       SELECT ${REL_COLUMNS}
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::json[])
         AS t(${REL_COLUMNS})
       ON CONFLICT (workspace, source_id, id) DO ${
         create
           ? 'NOTHING'
           : `UPDATE SET target_id = EXCLUDED.target_id, name = EXCLUDED.name, etag = EXCLUDED.etag,
                last_update = EXCLUDED.last_update, properties = EXCLUDED.properties`
       }`,
      cols,
    );
    if (create && r.rowCount !== run.length) throw exists('A relationship of this write');
  }
}

function twinValues(t: TwinRecord): unknown[] {
  const sourceTimes = t.sourceTimes && Object.keys(t.sourceTimes).length ? jsonText(t.sourceTimes) : null;
  return [
    t.workspace,
    t.id,
    t.modelId,
    t.etag,
    t.lastUpdateTime,
    jsonText(t.contents),
    jsonText(t.propertyTimes),
    sourceTimes,
    t.device === undefined ? null : jsonText(desiredPart(t.device)),
    t.device === undefined ? null : jsonText(devicePart(t.device)),
  ];
}

function relValues(r: RelationshipRecord): unknown[] {
  return [
    r.workspace,
    r.sourceId,
    r.id,
    r.targetId,
    r.name,
    r.etag,
    r.lastUpdateTime,
    jsonText(r.properties),
  ];
}

/** @throws InvalidArgument for a value PostgreSQL cannot store (a NUL in a text column). */
function checkOp(op: TwinStoreOp): void {
  switch (op.op) {
    case 'putTwin':
      checkNoNul('twin id', op.twin.id);
      checkNoNul('workspace', op.twin.workspace);
      checkNoNul('model id', op.twin.modelId);
      checkNoNul('etag', op.twin.etag);
      return;
    case 'putDeviceState':
    case 'deleteTwin':
      checkNoNul('twin id', op.id);
      checkNoNul('workspace', op.workspace);
      return;
    case 'putRelationship':
      for (const [what, v] of [
        ['relationship id', op.rel.id],
        ['source twin id', op.rel.sourceId],
        ['target twin id', op.rel.targetId],
        ['relationship name', op.rel.name],
        ['workspace', op.rel.workspace],
        ['etag', op.rel.etag],
      ] as const)
        checkNoNul(what, v);
      return;
    case 'deleteRelationship':
      checkNoNul('relationship id', op.relId);
      checkNoNul('source twin id', op.sourceId);
      checkNoNul('workspace', op.workspace);
      return;
  }
}

function changed(what: string): TwinloopError {
  return new TwinloopError(
    'PreconditionFailed',
    `${what} was changed or deleted by another write (its etag is not the one the write started from).`,
  );
}

function exists(what: string): TwinloopError {
  return new TwinloopError('PreconditionFailed', `${what} exists already (the write expected it absent).`);
}

/** A value the server refused as unstorable (bad encoding, NUL in jsonb) is the caller's: InvalidArgument. */
function invalidValue(e: unknown): unknown {
  const code = (e as { code?: unknown }).code;
  if (code === '22021' || code === '22P05')
    return new TwinloopError(
      'InvalidArgument',
      `PostgreSQL cannot store a value of this write: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  return e;
}
