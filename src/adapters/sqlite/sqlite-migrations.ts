/**
 * The ordered schema migrations of the embedded database. Migration i (0-based) takes the schema
 * from user_version i to i + 1. Never edit a migration that has shipped: append a new one.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  name: string;
  up(db: Database.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'models, twins and relationships',
    up: (db) => {
      db.exec(`
        CREATE TABLE models (
          seq INTEGER PRIMARY KEY,
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          definition TEXT NOT NULL,
          upload_time INTEGER NOT NULL,
          decommissioned INTEGER NOT NULL DEFAULT 0,
          UNIQUE (workspace, id)
        );
        CREATE TABLE twins (
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          model_id TEXT NOT NULL,
          etag TEXT NOT NULL,
          last_update INTEGER NOT NULL,
          contents TEXT NOT NULL,
          property_times TEXT NOT NULL,
          PRIMARY KEY (workspace, id)
        ) WITHOUT ROWID;
        CREATE TABLE relationships (
          workspace TEXT NOT NULL,
          source_id TEXT NOT NULL,
          id TEXT NOT NULL,
          target_id TEXT NOT NULL,
          name TEXT NOT NULL,
          etag TEXT NOT NULL,
          last_update INTEGER NOT NULL,
          properties TEXT NOT NULL,
          PRIMARY KEY (workspace, source_id, id)
        ) WITHOUT ROWID;
        CREATE INDEX relationships_by_target ON relationships (workspace, target_id);
      `);
    },
  },
  {
    name: 'history: series, log and chunks',
    up: (db) => {
      db.exec(`
        CREATE TABLE series (
          id INTEGER PRIMARY KEY,
          workspace TEXT NOT NULL,
          twin_id TEXT NOT NULL,
          path TEXT NOT NULL,
          kind TEXT NOT NULL,
          last_ts REAL,
          last_value TEXT,
          UNIQUE (workspace, twin_id, path)
        );
        -- One row per group commit: packed (series, ts, value) triples; emptied by compaction.
        CREATE TABLE history_log (
          id INTEGER PRIMARY KEY,
          nums BLOB,
          extra TEXT
        );
        -- Compacted points of one series, columnar, sorted by ts, with summaries of the whole chunk.
        CREATE TABLE history_chunks (
          id INTEGER PRIMARY KEY,
          series_id INTEGER NOT NULL,
          min_ts REAL NOT NULL,
          max_ts REAL NOT NULL,
          count INTEGER NOT NULL,
          num_count INTEGER NOT NULL,
          sum REAL,
          min REAL,
          max REAL,
          first_ts REAL NOT NULL,
          first_value TEXT,
          last_ts REAL NOT NULL,
          last_value TEXT,
          ts BLOB NOT NULL,
          vals BLOB NOT NULL,
          json TEXT
        );
        -- (series_id, max_ts, min_ts): a window [from, to) scans only chunks ending at or after "from".
        CREATE INDEX history_chunks_by_series ON history_chunks (series_id, max_ts, min_ts);
        CREATE INDEX history_chunks_by_end ON history_chunks (max_ts);
        -- During a compaction pass: series whose log points up to log_id are already in chunks
        -- (replay skips them); emptied when the pass ends.
        CREATE TABLE history_compacted (
          series_id INTEGER PRIMARY KEY,
          log_id INTEGER NOT NULL
        );
      `);
    },
  },
  {
    name: 'dead letters',
    up: (db) => {
      db.exec(`
        CREATE TABLE dead_letters (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          workspace TEXT NOT NULL,
          time INTEGER NOT NULL,
          source TEXT NOT NULL,
          topic TEXT,
          client_id TEXT,
          twin_id TEXT,
          payload BLOB NOT NULL,
          code TEXT NOT NULL,
          reason TEXT NOT NULL,
          problems TEXT
        );
        CREATE INDEX dead_letters_by_workspace ON dead_letters (workspace, id);
        CREATE INDEX dead_letters_by_time ON dead_letters (time);
      `);
    },
  },
  {
    name: 'behaviour parameters and calibrations',
    up: (db) => {
      db.exec(`
        -- The parameter values applied to a twin's behaviour (vals: JSON object name -> number).
        CREATE TABLE behaviour_parameters (
          workspace TEXT NOT NULL,
          twin_id TEXT NOT NULL,
          behaviour TEXT NOT NULL,
          vals TEXT NOT NULL,
          calibration_id TEXT,
          applied_at INTEGER NOT NULL,
          PRIMARY KEY (workspace, twin_id)
        ) WITHOUT ROWID;
        -- Calibrations run on a twin; report: the rest of the CalibrationRecord as JSON.
        CREATE TABLE calibrations (
          seq INTEGER PRIMARY KEY,
          workspace TEXT NOT NULL,
          twin_id TEXT NOT NULL,
          id TEXT NOT NULL,
          behaviour TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          report TEXT NOT NULL,
          UNIQUE (workspace, twin_id, id)
        );
        CREATE INDEX calibrations_by_twin ON calibrations (workspace, twin_id, created_at, seq);
      `);
    },
  },
  {
    name: 'dead letters: size as received (payloads are kept up to a cap)',
    up: (db) => {
      db.exec(`
        -- The payload's size as received when the stored payload was cut to the cap; NULL when whole.
        ALTER TABLE dead_letters ADD COLUMN received_bytes INTEGER;
      `);
    },
  },
  {
    name: 'device credentials',
    up: (db) => {
      db.exec(`
        -- A token scoped to one twin; digest: SHA-256 of the token's secret (the secret is never stored).
        CREATE TABLE device_credentials (
          seq INTEGER PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          workspace TEXT NOT NULL,
          twin_id TEXT NOT NULL,
          label TEXT,
          created_at INTEGER NOT NULL,
          digest BLOB NOT NULL
        );
        CREATE INDEX device_credentials_by_twin ON device_credentials (workspace, twin_id);
      `);
    },
  },
  {
    name: 'import and delete jobs',
    up: (db) => {
      db.exec(`
        -- One row per job; body: the job as JSON (status, times, progress, error).
        CREATE TABLE jobs (
          kind TEXT NOT NULL,
          id TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          status TEXT NOT NULL,
          purge_at INTEGER NOT NULL,
          body TEXT NOT NULL,
          PRIMARY KEY (kind, id)
        );
        CREATE INDEX jobs_by_created ON jobs (kind, created_at, id);
      `);
    },
  },
  {
    name: 'event routes: routes, endpoints, the outbox and its dead letters',
    up: (db) => {
      db.exec(`
        CREATE TABLE event_routes (
          id TEXT PRIMARY KEY,
          endpoint_name TEXT NOT NULL,
          filter TEXT NOT NULL
        ) WITHOUT ROWID;
        -- spec: the endpoint's settings as JSON; secret: its auth header's value (never returned).
        CREATE TABLE event_endpoints (
          name TEXT PRIMARY KEY,
          spec TEXT NOT NULL,
          secret TEXT
        ) WITHOUT ROWID;
        -- One row per event per endpoint, written in the transaction of the change it describes.
        CREATE TABLE event_outbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          endpoint TEXT NOT NULL,
          order_key TEXT NOT NULL,
          event TEXT NOT NULL,
          created INTEGER NOT NULL
        );
        -- seq: the outbox seq it had (replay keeps commit order).
        CREATE TABLE event_dead_letters (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          seq INTEGER NOT NULL,
          endpoint TEXT NOT NULL,
          order_key TEXT NOT NULL,
          event TEXT NOT NULL,
          created INTEGER NOT NULL,
          dead_at INTEGER NOT NULL,
          attempts INTEGER NOT NULL,
          reason TEXT NOT NULL
        );
        CREATE INDEX event_dead_letters_by_endpoint ON event_dead_letters (endpoint, id);
      `);
    },
  },
  {
    name: 'history checkpoints: the last stream sequence an ingest worker committed, per key',
    up: (db) => {
      db.exec(`
        CREATE TABLE history_checkpoints (
          key TEXT PRIMARY KEY,
          seq INTEGER NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    name: 'alarms: at most one open (not cleared) alarm per workspace, twin and rule',
    up: (db) => {
      db.exec(`
        -- body: the alarm as JSON; the columns are what lists, the open-alarm rule and retention need.
        CREATE TABLE alarms (
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          twin_id TEXT NOT NULL,
          rule_id TEXT NOT NULL,
          severity TEXT NOT NULL,
          state TEXT NOT NULL,
          first_time INTEGER NOT NULL,
          last_time INTEGER NOT NULL,
          cleared_time INTEGER,
          body TEXT NOT NULL,
          PRIMARY KEY (workspace, id)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX alarms_open_key ON alarms (workspace, twin_id, rule_id) WHERE state <> 'cleared';
        CREATE INDEX alarms_by_first ON alarms (workspace, first_time, id);
        CREATE INDEX alarms_by_twin ON alarms (workspace, twin_id, first_time, id);
        CREATE INDEX alarms_by_cleared ON alarms (cleared_time) WHERE state = 'cleared';
      `);
    },
  },
  {
    name: 'rules: versioned rule documents',
    up: (db) => {
      db.exec(`
        -- latest: the newest version; deleted_at: set while the rule is deleted (its versions stay).
        CREATE TABLE rules (
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          latest INTEGER NOT NULL,
          deleted_at INTEGER,
          PRIMARY KEY (workspace, id)
        ) WITHOUT ROWID;
        -- definition: canonical JSON (keys sorted), compared to decide whether a put is a new version.
        CREATE TABLE rule_versions (
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          version INTEGER NOT NULL,
          definition TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (workspace, id, version)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    name: 'alarms: a revision per alarm (writes only over the revision their writer read)',
    up: (db) => {
      db.exec(`
        -- Alarms stored before have revision 1; bodies without a revision are read with this column's.
        ALTER TABLE alarms ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
      `);
    },
  },
  {
    name: "scenes: versioned scene bindings (the rule tables' shape)",
    up: (db) => {
      db.exec(`
        -- A scene's binding (docs/scenes.md), versioned like rules: a head row and one row per version.
        CREATE TABLE scenes (
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          latest INTEGER NOT NULL,
          deleted_at INTEGER,
          PRIMARY KEY (workspace, id)
        ) WITHOUT ROWID;
        CREATE TABLE scene_versions (
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          version INTEGER NOT NULL,
          definition TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (workspace, id, version)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    name: 'commands: durable commands to devices and their steps',
    up: (db) => {
      db.exec(`
        -- One row per command (docs/control.md). seq: AUTOINCREMENT, so a seq is never given twice,
        -- even after the newest command was pruned. request, response: JSON text (NULL when absent).
        -- steps: JSON array of {state, at}; updated_at: the time of the last step (for prune).
        CREATE TABLE commands (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          workspace TEXT NOT NULL,
          request_id TEXT NOT NULL,
          twin_id TEXT NOT NULL,
          command TEXT NOT NULL,
          request TEXT,
          created_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          requested_by TEXT,
          state TEXT NOT NULL,
          steps TEXT NOT NULL,
          status INTEGER,
          response TEXT,
          reason TEXT,
          updated_at INTEGER NOT NULL,
          UNIQUE (workspace, request_id)
        );
        CREATE INDEX commands_by_workspace ON commands (workspace, seq);
        CREATE INDEX commands_by_twin ON commands (workspace, twin_id, seq);
        -- pending(), queuedTwins() and countOpen() read the open ones by state.
        CREATE INDEX commands_by_state ON commands (state, workspace, twin_id, seq);
        -- expireDue() (open states, by expiry) and prune() (finished states, by last step): one range
        -- per state. (Partial indexes would be smaller, but without ANALYZE statistics the planner
        -- prefers commands_by_state over them and scans every open or finished command.)
        CREATE INDEX commands_by_expiry ON commands (state, expires_at);
        CREATE INDEX commands_by_update ON commands (state, updated_at);
      `);
    },
  },
  {
    name: 'twins: the device side (desired version, reported values, presence; docs/control.md)',
    up: (db) => {
      db.exec(`
        -- The twin's device state in its two parts (core/graph/device-state-parts.ts), JSON, NULL
        -- until there is one: desired (written with the twin) and device (reported values, acks,
        -- connection: written alone, kept when the twin is written again).
        ALTER TABLE twins ADD COLUMN desired TEXT;
        ALTER TABLE twins ADD COLUMN device TEXT;
      `);
    },
  },
  {
    name: 'ml models: versioned trained models, their artefacts and activation log (docs/ml-models.md)',
    up: (db) => {
      db.exec(`
        -- One row per (workspace, kind, target): the last version given (never given again) and the
        -- active model. Every add and activation writes it, so they are serialised per target.
        CREATE TABLE ml_model_heads (
          workspace TEXT NOT NULL,
          kind TEXT NOT NULL,
          target TEXT NOT NULL,
          latest INTEGER NOT NULL,
          active_id TEXT,
          PRIMARY KEY (workspace, kind, target)
        ) WITHOUT ROWID;
        -- features, training_range, metrics: JSON text. The artefact (MBs) has a table of its own,
        -- so lists never read it.
        CREATE TABLE ml_models (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          kind TEXT NOT NULL,
          target TEXT NOT NULL,
          version INTEGER NOT NULL,
          status TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          activated_at INTEGER,
          features TEXT NOT NULL,
          training_range TEXT NOT NULL,
          metrics TEXT NOT NULL,
          code_version TEXT NOT NULL,
          note TEXT,
          artefact_size INTEGER NOT NULL,
          UNIQUE (workspace, id),
          UNIQUE (workspace, kind, target, version)
        );
        CREATE INDEX ml_models_by_target ON ml_models (workspace, kind, target, seq);
        CREATE INDEX ml_models_by_workspace ON ml_models (workspace, seq);
        CREATE TABLE ml_model_artefacts (
          workspace TEXT NOT NULL,
          id TEXT NOT NULL,
          artefact TEXT NOT NULL,
          UNIQUE (workspace, id)
        );
        CREATE TABLE ml_model_activations (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          workspace TEXT NOT NULL,
          kind TEXT NOT NULL,
          target TEXT NOT NULL,
          action TEXT NOT NULL,
          model_id TEXT NOT NULL,
          version INTEGER NOT NULL,
          from_id TEXT,
          from_version INTEGER,
          rollback_to_id TEXT,
          at INTEGER NOT NULL,
          by_whom TEXT NOT NULL,
          reason TEXT
        );
        CREATE INDEX ml_model_activations_by_target ON ml_model_activations (workspace, kind, target, seq);
      `);
    },
  },
];
