/**
 * The archive's tables. One SQLite file holds the attempts, the ledger and
 * the warm-start memory, so one transaction can touch any of them and a
 * copy of the file is a complete record of a run.
 */

/**
 * Bumped whenever the tables change. A file of an older version this build
 * knows is migrated when opened (MIGRATIONS, in one transaction, and the
 * archive says so); any other version is refused.
 */
export const SCHEMA_VERSION = 8;

/** "OURO" in ASCII, in the database header: tells an archive from any other SQLite file. */
export const APPLICATION_ID = 0x4f55524f;

/*
 * JSON columns (genome, gates, benchmark, fingerprint) hold values the
 * archive stores and returns whole; nothing queries inside them except
 * failed_gate, which is its own column for that reason.
 *
 * The ledger refuses UPDATE and DELETE by trigger. That stops honest
 * mistakes (a stray statement from a tool, a bug in a migration) at the
 * moment they happen, with a message, at no cost. It is no defence against
 * someone who can write the file: they can drop the triggers or edit pages
 * directly. `Ledger.verify()` therefore relies only on the hash chain and
 * the head record, never on the triggers being present.
 *
 * row_sha256 is each attempt row's content hash (row-seal.ts), written in
 * the transaction of every change to the row, so an edit made outside the
 * archive shows.
 *
 * ledger_head is the last sequence and hash, written in the same
 * transaction as each entry: a chain cut short at its end, or extended by
 * a forged entry, still chains, and only a second record of where the
 * chain ends shows it. Its trigger lets the head only advance by one.
 */
/**
 * One row per candidate a person approved or rejected (approval mode): who
 * and when, and the ledger entry that records the same decision in the
 * hash chain, so the table's row can be checked against the chain.
 */
const APPROVALS_SQL = `CREATE TABLE IF NOT EXISTS approvals (
  attempt_id INTEGER PRIMARY KEY REFERENCES attempts (id),
  decision TEXT NOT NULL,
  decided_by TEXT NOT NULL,
  decided_at TEXT NOT NULL,
  ledger_sequence INTEGER NOT NULL REFERENCES ledger (sequence)
);
`;

/**
 * One row per run whose samples were kept (runs), and those samples
 * (run_samples), downsampled to a bounded number per run (runs.ts), so a
 * finished run's dashboard can draw its throughput and energy. A run's
 * figures that are no samples (baseline, roofline, the drift tolerance) sit
 * on its row; the in-cache ceiling changes with the live step kernel, so
 * each sample carries the one known when it was taken. The ids are given by
 * the archive, not the database, and the SQL is plain, so that another
 * database can hold the same tables.
 */
const RUNS_SQL = `CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  baseline_mlups REAL,
  roofline_mlups REAL,
  drift_tolerance REAL,
  samples_taken INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS run_samples (
  run_id INTEGER NOT NULL REFERENCES runs (id),
  seq INTEGER NOT NULL,
  at_ms REAL NOT NULL,
  step INTEGER NOT NULL,
  mlups REAL NOT NULL,
  interval_ms REAL NOT NULL,
  held_ms REAL NOT NULL,
  energy_drift REAL NOT NULL,
  in_cache_mlups REAL,
  PRIMARY KEY (run_id, seq)
);
`;

/**
 * The engines that own pending attempts (attempts.owner), each with the
 * time of its last heartbeat in ms since the epoch: an engine closes a
 * pending attempt as interrupted only when its owner is gone (owners.ts),
 * so engines sharing an archive leave each other's attempts in flight.
 */
const OWNERS_SQL = `CREATE TABLE IF NOT EXISTS owners (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  heartbeat_ms INTEGER NOT NULL
);
`;

/**
 * What each attempt that ended on its own cost the live job, in
 * lattice-seconds as the economy measures them (economy.ts), and how long it
 * took, keyed by what makes two attempts' costs comparable: the machine
 * (its fingerprint hash), the live lattice's extents ("4096x4096") and
 * precision, the threads it steps with, the slot. A new run's economy starts
 * from the recent costs of its key instead of a guess (attempt-costs.ts).
 */
const ATTEMPT_COSTS_SQL = `CREATE TABLE IF NOT EXISTS attempt_costs (
  attempt_id INTEGER PRIMARY KEY REFERENCES attempts (id),
  slot TEXT NOT NULL,
  machine TEXT NOT NULL,
  extents TEXT NOT NULL,
  precision TEXT NOT NULL,
  threads INTEGER NOT NULL,
  cost_seconds REAL NOT NULL,
  wall_seconds REAL NOT NULL,
  recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempt_costs_by_key ON attempt_costs (machine, extents, precision, threads, slot);
`;

/**
 * The step kernel's quiet throughput as a run measured it before anything
 * changed (the engine's baseline window), per machine, lattice extents,
 * precision and threads (as attempt_costs) and module: a later run that
 * puts a remembered kernel live at once takes the figure from here instead
 * of stepping the reference kernel through a window first (baselines.ts).
 * One row per key and module, the latest measurement.
 */
const BASELINES_SQL = `CREATE TABLE IF NOT EXISTS baselines (
  machine TEXT NOT NULL,
  extents TEXT NOT NULL,
  precision TEXT NOT NULL,
  threads INTEGER NOT NULL,
  module_sha256 TEXT NOT NULL,
  mlups REAL NOT NULL,
  steps INTEGER NOT NULL,
  recorded_at TEXT NOT NULL,
  PRIMARY KEY (machine, extents, precision, threads, module_sha256)
);
`;

/**
 * The economy's decision that the search converged (economy.ts: it backed
 * off, the expected gain no longer paying for an attempt), as a run ended
 * in it, per machine, lattice extents, precision and threads (as
 * attempt_costs): the slot that was the bottleneck, the module live in it,
 * the generator, and the figures the decision was made on. A later run
 * whose live module and generator match starts backed off instead of
 * paying for an attempt to learn it again (ts/engine/convergence.ts). One
 * row per key, the latest run's; a run that ends searching removes it.
 */
const CONVERGENCE_SQL = `CREATE TABLE IF NOT EXISTS convergence (
  machine TEXT NOT NULL,
  extents TEXT NOT NULL,
  precision TEXT NOT NULL,
  threads INTEGER NOT NULL,
  slot TEXT NOT NULL,
  module_sha256 TEXT NOT NULL,
  generator TEXT NOT NULL,
  expected_gain_seconds REAL NOT NULL,
  attempt_cost_seconds REAL NOT NULL,
  ceiling_kind TEXT,
  ceiling_mlups REAL,
  in_cache_mlups REAL,
  live_mlups REAL NOT NULL,
  recorded_at TEXT NOT NULL,
  PRIMARY KEY (machine, extents, precision, threads)
);
`;

export const SCHEMA_SQL = `
CREATE TABLE attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  parent_id INTEGER REFERENCES attempts (id),
  slot TEXT NOT NULL,
  generator TEXT NOT NULL,
  operator TEXT NOT NULL,
  genome TEXT,
  prompt TEXT,
  source TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,
  module_sha256 TEXT,
  module_path TEXT,
  gates TEXT NOT NULL,
  failed_gate TEXT,
  reason TEXT NOT NULL,
  benchmark TEXT,
  bench_ratio REAL,
  live_mlups REAL,
  speedup REAL,
  status TEXT NOT NULL,
  cost_usd REAL NOT NULL,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  row_sha256 TEXT NOT NULL DEFAULT '',
  raw_reply TEXT,
  owner TEXT
);
CREATE INDEX attempts_by_slot_status ON attempts (slot, status);
CREATE INDEX attempts_by_parent ON attempts (parent_id);
CREATE UNIQUE INDEX attempts_one_root_per_slot ON attempts (slot) WHERE parent_id IS NULL;

CREATE TABLE ledger (
  sequence INTEGER PRIMARY KEY,
  action TEXT NOT NULL,
  slot TEXT NOT NULL,
  attempt_id INTEGER REFERENCES attempts (id),
  module_sha256 TEXT NOT NULL,
  previous_module_sha256 TEXT NOT NULL,
  at_step INTEGER NOT NULL,
  reason TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  previous_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER ledger_refuses_update BEFORE UPDATE ON ledger
BEGIN
  SELECT RAISE(ABORT, 'the ledger is append-only: an entry cannot be updated');
END;
CREATE TRIGGER ledger_refuses_delete BEFORE DELETE ON ledger
BEGIN
  SELECT RAISE(ABORT, 'the ledger is append-only: an entry cannot be deleted');
END;

CREATE TABLE ledger_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER ledger_head_only_advances BEFORE UPDATE ON ledger_head
WHEN NEW.sequence <> OLD.sequence + 1
BEGIN
  SELECT RAISE(ABORT, 'the ledger head only advances by one entry at a time');
END;
CREATE TRIGGER ledger_head_refuses_delete BEFORE DELETE ON ledger_head
BEGIN
  SELECT RAISE(ABORT, 'the ledger head cannot be deleted');
END;

CREATE TABLE warm_start (
  slot TEXT PRIMARY KEY,
  attempt_id INTEGER NOT NULL REFERENCES attempts (id),
  fingerprint TEXT NOT NULL,
  remembered_at TEXT NOT NULL
);
${APPROVALS_SQL}${RUNS_SQL}${OWNERS_SQL}${ATTEMPT_COSTS_SQL}${BASELINES_SQL}${CONVERGENCE_SQL}`;

/** The tables every archive has: one missing means the file was edited. */
export const REQUIRED_TABLES = ['attempts', 'ledger', 'ledger_head', 'warm_start'] as const;

/** Tables an archive has from a schema version on (older ones gain them when migrated). */
export const TABLES_SINCE_VERSION: ReadonlyMap<string, number> = new Map([
  ['approvals', 3],
  ['runs', 4],
  ['run_samples', 4],
  ['owners', 5],
  ['attempt_costs', 6],
  ['baselines', 7],
  ['convergence', 8],
]);

/**
 * From each older version to the next: the statements, then whether every
 * attempt row must be sealed (its content hash written) afterwards.
 */
export const MIGRATIONS: ReadonlyMap<number, { sql: string; sealAll: boolean }> = new Map([
  // Version 2 adds the attempt rows' content hash; rows written before it are sealed as they are when first opened.
  [1, { sql: "ALTER TABLE attempts ADD COLUMN row_sha256 TEXT NOT NULL DEFAULT '';", sealAll: true }],
  // Version 3 adds the approval decisions of the dashboard's approval mode and the LLM's raw reply;
  // existing rows keep their hashes (row-seal.ts covers raw_reply only when it is set).
  [2, { sql: `ALTER TABLE attempts ADD COLUMN raw_reply TEXT;\n${APPROVALS_SQL}`, sealAll: false }],
  // Version 4 adds the runs' samples, for a finished run's dashboard; nothing else changes.
  [3, { sql: RUNS_SQL, sealAll: false }],
  // Version 5 adds the attempts' owners (row-seal.ts leaves owner out: it says who may close a row, not what the row is).
  [4, { sql: `ALTER TABLE attempts ADD COLUMN owner TEXT;\n${OWNERS_SQL}`, sealAll: false }],
  // Version 6 adds the attempts' measured costs; an older archive has none, and its runs' economies start from the prior.
  [5, { sql: ATTEMPT_COSTS_SQL, sealAll: false }],
  // Version 7 adds the measured baselines; an older archive has none, and its next run measures one as before.
  [6, { sql: BASELINES_SQL, sealAll: false }],
  // Version 8 adds the remembered convergence; an older archive has none, and its next run searches as before.
  [7, { sql: CONVERGENCE_SQL, sealAll: false }],
]);
