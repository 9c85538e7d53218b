/**
 * The engine's configuration schema: one row per key of `ouroboros.toml`,
 * with its type, allowed range, default and a sentence for the docs. The
 * loader (config.ts) validates against this table and nothing else, so the
 * table is the one place a key is declared.
 */

/** A duration written with a unit: "250ms", "2s", "5m", "1h". */
export interface DurationType {
  kind: 'duration';
  minMs: number;
  maxMs: number;
}

export type KeyType =
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'number'; min: number; max: number; maxExclusive?: boolean; minExclusive?: boolean }
  | DurationType
  | { kind: 'string'; allowEmpty: boolean }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'boolean' }
  /** `allowEmpty`: [] is a value too (the key's description says what it stands for). */
  | { kind: 'extents'; minExtent: number; maxExtent: number; maxAxes: number; allowEmpty?: boolean };

export type DefaultValue = number | string | boolean | readonly number[];

export interface ConfigKey {
  /** Dotted path in the TOML file, e.g. "watch.window". */
  path: string;
  type: KeyType;
  default: DefaultValue;
  description: string;
}

const HOUR_MS = 3_600_000;

export const GENERATOR_KINDS = ['variant', 'random', 'llm'] as const;
export type GeneratorKind = (typeof GENERATOR_KINDS)[number];

export const SPEED_JUDGES = ['live-ab', 'benchmark'] as const;
export type SpeedJudge = (typeof SPEED_JUDGES)[number];

/**
 * Every key. A duration key `x` resolves to `xMs` in milliseconds; every
 * other key keeps its name. 0 means "no limit" where a description says so.
 * `as const` keeps each row's path and type for EngineConfig below.
 */
export const CONFIG_SCHEMA = [
  {
    path: 'maxConcurrentImprovements',
    type: { kind: 'integer', min: 1, max: 16 },
    default: 3,
    description: 'Improvement attempts in flight at once (generation and gauntlet run concurrently; swaps are one at a time).',
  },
  {
    path: 'improvementInterval',
    type: { kind: 'duration', minMs: 0, maxMs: HOUR_MS },
    default: '2s',
    description: 'Least time between the starts of two attempts.',
  },
  {
    path: 'safetyThreshold',
    type: { kind: 'number', min: 0, max: 1 },
    default: 0.8,
    description: "Least safety score the gauntlet's static firewall accepts.",
  },
  {
    path: 'maxDegradation',
    type: { kind: 'number', min: 0, max: 1, maxExclusive: true },
    default: 0.05,
    description:
      "Largest drop of live MLUPS below the incumbent's, measured just before the swap, that the watch window tolerates; and, once the economy has backed off, the largest fraction of the wall time the search may cost the simulation.",
  },
  {
    path: 'economy.enabled',
    type: { kind: 'boolean' },
    default: true,
    description:
      'Pace the attempts by what they cost the live simulation against what the next one is expected to win (ts/engine/economy.ts); false: one attempt every improvementInterval with maxConcurrentImprovements in flight, for as long as the run lasts.',
  },
  {
    path: 'economy.childCpuCost',
    type: { kind: 'number', min: 0, max: 100 },
    default: 2,
    description:
      "Seconds of the live simulation's stepping one CPU-second of a child process (compiler, analysers, sandbox) costs it: on a 2-core VM a 2-thread kernel at 4096x4096 lost 1.1-2.2 s per CPU-second of a nice-0 busy loop, 4-5 s per CPU-second of a nice-10 one.",
  },
  {
    path: 'economy.horizon',
    type: { kind: 'duration', minMs: 1_000, maxMs: 7 * 24 * HOUR_MS },
    default: '10m',
    description:
      'With no known end (no --duration, no budget.maxWallSeconds), the run is taken to go on this long from now, or as long again as it has run, whichever is longer.',
  },
  {
    path: 'seed',
    type: { kind: 'integer', min: 0, max: 2 ** 32 - 1 },
    default: 1,
    description: 'Seeds parent selection and the generators, so a run replays.',
  },
  {
    path: 'sampleInterval',
    type: { kind: 'duration', minMs: 50, maxMs: HOUR_MS },
    default: '1s',
    description: "How often the live lattice is sampled (MLUPS, energy drift) for the 'sample' event.",
  },
  {
    path: 'energyInterval',
    type: { kind: 'duration', minMs: 50, maxMs: HOUR_MS },
    default: '5s',
    description: 'How often a sample also measures the energy drift (a copy of both levels and an oracle pass: costly on a large lattice).',
  },
  {
    path: 'archive.path',
    type: { kind: 'string', allowEmpty: false },
    default: '.ouroboros/archive.sqlite',
    description: 'The SQLite archive of attempts and the ledger, relative to the working directory.',
  },
  {
    path: 'archive.url',
    type: { kind: 'string', allowEmpty: true },
    default: '',
    description:
      'A PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DB) to hold the archive and the ledger in place of archive.path, shared by the engines of a fleet. Empty: the SQLite file.',
  },
  {
    path: 'archive.warmStart',
    type: { kind: 'boolean' },
    default: true,
    description: "On start, swap in the remembered best module per slot at once (if this machine's fingerprint matches) and re-verify it in the background.",
  },
  {
    path: 'generator.kind',
    type: { kind: 'enum', values: GENERATOR_KINDS },
    default: 'variant',
    description: 'Which generator proposes children: the offline variant search, random sampling of the same space, or an LLM.',
  },
  {
    path: 'generator.recentFailures',
    type: { kind: 'integer', min: 0, max: 64 },
    default: 8,
    description: 'Failed siblings (gate and reason) passed back to the generator.',
  },
  {
    path: 'generator.candidates',
    type: { kind: 'integer', min: 1, max: 256 },
    default: 16,
    description:
      'Children the variant generator breeds per attempt; the predictor sends the one it expects to be fastest to the gauntlet (random sampling and the LLM propose one).',
  },
  {
    path: 'generator.llm.baseURL',
    type: { kind: 'string', allowEmpty: false },
    default: 'http://127.0.0.1:8080/v1',
    description: 'OpenAI-compatible endpoint (llama.cpp, vLLM, Ollama, ...).',
  },
  {
    path: 'generator.llm.model',
    type: { kind: 'string', allowEmpty: false },
    default: 'qwen2.5-coder-7b-instruct',
    description: 'Model name sent to the endpoint.',
  },
  {
    path: 'generator.llm.apiKey',
    type: { kind: 'string', allowEmpty: true },
    default: '',
    description: 'Bearer key; empty: OUROBOROS_LLM_API_KEY, else OPENAI_API_KEY, else none for a loopback server.',
  },
  {
    path: 'generator.llm.timeout',
    type: { kind: 'duration', minMs: 10, maxMs: HOUR_MS },
    default: '60s',
    description: 'Limit of one request.',
  },
  {
    path: 'generator.llm.maxRetries',
    type: { kind: 'integer', min: 0, max: 10 },
    default: 2,
    description: 'Further tries after a timeout, a refused connection, a 429 or a 5xx.',
  },
  {
    path: 'generator.llm.requestsPerMinute',
    type: { kind: 'number', min: 0, max: 60_000, minExclusive: true },
    default: 60,
    description: 'Rate limit of requests.',
  },
  {
    path: 'generator.llm.temperature',
    type: { kind: 'number', min: 0, max: 2 },
    default: 0.7,
    description: 'Sampling temperature.',
  },
  {
    path: 'generator.llm.inputUsdPerMillionTokens',
    type: { kind: 'number', min: 0, max: 1e6 },
    default: 0,
    description: 'Price of prompt tokens, for the spend limit (0: a local server).',
  },
  {
    path: 'generator.llm.outputUsdPerMillionTokens',
    type: { kind: 'number', min: 0, max: 1e6 },
    default: 0,
    description: 'Price of completion tokens.',
  },
  {
    path: 'budget.maxWallSeconds',
    type: { kind: 'number', min: 0, max: 1e9 },
    default: 0,
    description: 'Stop the engine after this many seconds (0: no limit).',
  },
  {
    path: 'budget.maxAttempts',
    type: { kind: 'integer', min: 0, max: 1e9 },
    default: 0,
    description: 'Stop starting attempts after this many in this run (0: no limit).',
  },
  {
    path: 'budget.spendLimitUsd',
    type: { kind: 'number', min: 0, max: 1e6 },
    default: 1,
    description: 'Most the generator may spend in USD (only the LLM generator spends).',
  },
  {
    path: 'lattice.extents',
    type: { kind: 'extents', minExtent: 3, maxExtent: 1 << 24, maxAxes: 9 },
    default: [4096, 4096],
    description: "The main job's lattice: 4096 x 4096 f64 is 128 MiB per level, well beyond a 32 MiB L3.",
  },
  {
    path: 'lattice.precision',
    type: { kind: 'enum', values: ['f64', 'f32'] },
    default: 'f64',
    description: 'Floating-point precision of the main job.',
  },
  {
    path: 'lattice.dt',
    type: { kind: 'number', min: 0, max: 1, minExclusive: true },
    default: 0.5,
    description: 'Time step with c = h = 1; the Courant number dt must stay below 1 / sqrt(dimensions).',
  },
  {
    path: 'lattice.init',
    type: { kind: 'enum', values: ['gaussian', 'standing', 'random'] },
    default: 'gaussian',
    description: 'Initial state of the main job.',
  },
  {
    path: 'lattice.threads',
    type: { kind: 'integer', min: 0, max: 256 },
    default: 0,
    description: "Threads of the core's pool lent to kernels (0: available parallelism).",
  },
  {
    path: 'lattice.batchLatency',
    type: { kind: 'duration', minMs: 1, maxMs: 10_000 },
    default: '50ms',
    description:
      'Longest one batch of steps (one call of the step kernel) should take: the runner asks for k = clamp(floor(batchLatency / time per step), 1, maxBatchSteps) steps per call, a new module starting at 1. Swaps, pauses and watchdog snapshots wait for the batch in flight. 50ms, not 10ms: at 4096^2 a fast step takes 5-11 ms, and a 10 ms bound would keep batches at 1-2 steps where fusing 4-8 steps per pass (temporal blocking) is what pays. Where one step alone takes most of it, the runner tries longer batches, up to 8 x batchLatency, and keeps them only while they are measured faster per step.',
  },
  {
    path: 'lattice.maxBatchSteps',
    type: { kind: 'integer', min: 1, max: 4096 },
    default: 64,
    description: 'Most steps in one call of the step kernel, however fast it is: 8 fused steps pay, 64 leaves room for deeper fusion.',
  },
  {
    path: 'watchdog.everySteps',
    type: { kind: 'integer', min: 1, max: 2 ** 40 },
    default: 50,
    description: 'Oracle check of the live state every this many steps, with automatic rollback on a failure.',
  },
  {
    path: 'watchdog.driftTolerance',
    type: { kind: 'number', min: 0, max: 1 },
    default: 0,
    description:
      "Largest relative energy drift the watchdog accepts (0: the lattice precision's own, 1e-9 in f64 and 1e-4 in f32, whose rounding alone drifts the reference kernel's energy by 1e-7 within 50 steps).",
  },
  {
    path: 'watchdog.maxCostShare',
    type: { kind: 'number', min: 0, max: 1, minExclusive: true },
    default: 0.01,
    description:
      "Largest share of the run's time the watchdog's checks may take: after each check the next snapshot waits a random whole number of everySteps intervals, whose mean makes the check's measured cost (the runner's copy of both levels, the JS thread's copy and oracle sums) this share. At 4096^2 a check costs about 0.2 s, 13% of the run at every 50 steps of a 30 ms kernel.",
  },
  {
    path: 'watchdog.fullCheckEvery',
    type: { kind: 'duration', minMs: 0, maxMs: HOUR_MS },
    default: '120s',
    description:
      'Every this long the differential check compares the whole lattice with the oracle after one live batch, not a sample of cells (0: never): a kernel wrong at a few cells escapes the samples. About 1 s of oracle work off the event loop and 0.25 s on it at 4096^2: 2 minutes keeps it near 1% of the run (about 2% at 1 minute, measured under load).',
  },
  {
    path: 'watchdog.coneEverySteps',
    type: { kind: 'integer', min: 0, max: 2 ** 40 },
    default: 50,
    description:
      "Between snapshots, a cone probe checks one batch differentially every this many steps on average (its step drawn 1 to 2x - 1 steps after the last), at the cost of gathering a few cells' light cones (0: none, only the snapshots' probes): a kernel that misbehaves briefly between two snapshots is seen only by a probe.",
  },
  {
    path: 'watch.window',
    type: { kind: 'duration', minMs: 10, maxMs: HOUR_MS },
    default: '4s',
    description: 'How long a newly swapped module is watched (and the incumbent measured just before the swap).',
  },
  {
    path: 'watch.minSteps',
    type: { kind: 'integer', min: 1, max: 1e9 },
    default: 10,
    description: 'The watch window and the measurement before it last at least this many steps.',
  },
  {
    path: 'canary.steps',
    type: { kind: 'integer', min: 1, max: 1e6 },
    default: 10,
    description: 'Steps the canary runs incumbent and candidate on copies of the live state.',
  },
  {
    path: 'canary.tolerance',
    type: { kind: 'number', min: 0, max: 1, minExclusive: true },
    default: 1e-9,
    description:
      "Largest |incumbent - candidate| of any cell after the canary's steps (the initial states have amplitude 4); the energies must agree to this relative tolerance.",
  },
  {
    path: 'gauntlet.targetExtents',
    type: { kind: 'extents', minExtent: 3, maxExtent: 1 << 24, maxAxes: 9, allowEmpty: true },
    default: [],
    description:
      "Benchmark lattice; empty: the live lattice's extents, or 4096x4096 for a lattice of more than 2^24 cells (three levels of it must fit the sandbox). At 2048x2048 the sandbox measured 4% between two kernels 25% apart live at 4096x4096.",
  },
  {
    path: 'gauntlet.heldOutExtents',
    type: { kind: 'extents', minExtent: 3, maxExtent: 1 << 24, maxAxes: 9 },
    default: [1531, 1523],
    description:
      "Held-out benchmark lattice's size: the sandbox draws odd extents of about this many cells, with the benchmark lattice's dimension count, for every evaluation, so no kernel can learn it.",
  },
  {
    path: 'gauntlet.benchSteps',
    type: { kind: 'integer', min: 1, max: 100_000 },
    default: 2,
    description: 'Steps per benchmark sample.',
  },
  {
    path: 'gauntlet.benchSamples',
    type: { kind: 'integer', min: 3, max: 10_000 },
    default: 9,
    description:
      'Benchmark samples per kernel when the benchmark decides (gauntlet.speedJudge = "benchmark"): with 9, a candidate faster in every sample scores p = 0.0004, so one noisy sample on a busy machine still leaves it significant.',
  },
  {
    path: 'gauntlet.cacheDir',
    type: { kind: 'string', allowEmpty: true },
    default: '',
    description: 'Where built candidates are cached (empty: <tmpdir>/ouroboros-<uid>/gauntlet-cache, private to the user).',
  },
  {
    path: 'gauntlet.cacheMiB',
    type: { kind: 'integer', min: 16, max: 1 << 20 },
    default: 1024,
    description: 'Size cap of the build cache in MiB: after each build the least recently used modules are evicted down to it.',
  },
  {
    path: 'gauntlet.speedJudge',
    type: { kind: 'enum', values: SPEED_JUDGES },
    default: 'live-ab',
    description:
      'What decides that a candidate which passed every correctness gate is faster: "live-ab", an A/B trial on the live lattice (trial.*), the sandbox\'s benchmark only screening out a candidate clearly slower than the incumbent; "benchmark", the sandbox\'s benchmark (a significant win on both of its lattices; set gauntlet.holdLive for it to time the kernels on free cores), then a swap and a watch window.',
  },
  {
    path: 'gauntlet.screenSamples',
    type: { kind: 'integer', min: 3, max: 10_000 },
    default: 5,
    description:
      'Benchmark samples per kernel when the benchmark only screens (gauntlet.speedJudge = "live-ab"): with 5, a candidate slower in every sample scores p = 0.012; the benchmark still runs in full for its checks (oracle probes, the held-out size).',
  },
  {
    path: 'gauntlet.holdLive',
    type: { kind: 'boolean' },
    default: false,
    description:
      'Hold the live lattice at a step boundary while a candidate\'s sandbox run and benchmark go (14 s per attempt at 4096^2), so the benchmark times kernels on free cores: for gauntlet.speedJudge = "benchmark". false: the simulation never waits, and the benchmark competes with it.',
  },
  {
    path: 'trial.window',
    type: { kind: 'duration', minMs: 10, maxMs: HOUR_MS },
    default: '1s',
    description: 'Length of each window of a live A/B trial, in which either the incumbent or the candidate steps the live lattice (A B B A A B ...).',
  },
  {
    path: 'trial.minSteps',
    type: { kind: 'integer', min: 1, max: 1e9 },
    default: 3,
    description: 'Each window of a live A/B trial lasts at least this many steps.',
  },
  {
    path: 'trial.maxPairs',
    type: { kind: 'integer', min: 2, max: 1000 },
    default: 12,
    description:
      'Pairs of windows (one of each kernel) after which an undecided trial stops and the candidate is not applied; the sequential test spreads its 5% error rate over this many looks.',
  },
  {
    path: 'trial.minGain',
    type: { kind: 'number', min: 0, max: 1, maxExclusive: true },
    default: 0.03,
    description:
      'Least gain a trial applies: the interval of candidate over incumbent throughput must lie wholly above 1 + minGain; the trial stops as a loss once it lies wholly below.',
  },
  {
    path: 'trial.maxSlowerLive',
    type: { kind: 'duration', minMs: 10, maxMs: HOUR_MS },
    default: '4s',
    description:
      'Longest a candidate may step the live lattice in one trial while it measures slower than the incumbent: no further window of it starts that would take it past this (at least trial.window).',
  },
  {
    path: 'breaker.failures',
    type: { kind: 'integer', min: 1, max: 1000 },
    default: 5,
    description: 'Consecutive failures of one kind (a generator error kind, a sandbox crash, ...) that open the circuit breaker.',
  },
  {
    path: 'breaker.backoff',
    type: { kind: 'duration', minMs: 1, maxMs: HOUR_MS },
    default: '5s',
    description: 'Pause after the breaker first opens; each further opening doubles it.',
  },
  {
    path: 'breaker.maxBackoff',
    type: { kind: 'duration', minMs: 1, maxMs: 24 * HOUR_MS },
    default: '5m',
    description: 'Longest pause of the breaker.',
  },
  {
    path: 'log.file',
    type: { kind: 'string', allowEmpty: true },
    default: '.ouroboros/engine.log',
    description: 'Structured log, one JSON line per event (empty: no log file; never stdout, which the progress display owns).',
  },
  {
    path: 'log.level',
    type: { kind: 'enum', values: ['debug', 'info', 'warn', 'error'] },
    default: 'info',
    description: 'Least level written to the log.',
  },
  {
    path: 'fleet.redis',
    type: { kind: 'string', allowEmpty: true },
    default: '',
    description:
      "Redis URL of a fleet (redis://HOST:PORT): candidates go to `ouroboros worker` processes of this machine's fingerprint through BullMQ, and applied improvements are shared with the fleet's other engines. Empty: everything runs locally.",
  },
  {
    path: 'fleet.jobTimeout',
    type: { kind: 'duration', minMs: 1_000, maxMs: HOUR_MS },
    default: '10m',
    description:
      'Longest evaluation of one delivery of a job on a worker; a job over it is delivered once more, then recorded as a timeout. Workers and engines of a fleet should agree on it.',
  },
  {
    path: 'fleet.share',
    type: { kind: 'boolean' },
    default: true,
    description:
      "With fleet.redis: publish every applied improvement on the fleet's stream, and judge the others' (full gauntlet, then a live A/B trial) as candidates from an untrusted generator.",
  },
] as const satisfies readonly ConfigKey[];

// ------------------------------------------------------------ the resolved type, derived from the rows

/** The value a key of this type resolves to. */
type ResolvedValue<T extends KeyType> = T extends { kind: 'integer' | 'number' | 'duration' }
  ? number
  : T extends { kind: 'string' }
    ? string
    : T extends { kind: 'enum'; values: readonly (infer Value)[] }
      ? Value
      : T extends { kind: 'boolean' }
        ? boolean
        : T extends { kind: 'extents' }
          ? number[]
          : never;

/** A row as [resolved dotted path, value]: a duration key `x` resolves to `xMs` (config.ts's resolvedName). */
type Entry<Key> = Key extends { path: infer Path extends string; type: infer Type extends KeyType }
  ? [Type extends { kind: 'duration' } ? `${Path}Ms` : Path, ResolvedValue<Type>]
  : never;

type Head<Path extends string> = Path extends `${infer First}.${string}` ? First : Path;
type Below<E, Name extends string> = E extends [`${Name}.${infer Rest}`, infer Value] ? [Rest, Value] : never;

/** Nested tables from dotted entries: a name is a leaf when an entry's whole path is that name, else a table. */
type Tree<E extends [string, unknown]> = {
  [Name in Head<E[0]>]: [Extract<E, [Name, unknown]>] extends [never] ? Tree<Below<E, Name>> : Extract<E, [Name, unknown]>[1];
};

/**
 * The resolved configuration, derived from CONFIG_SCHEMA: a key added to the
 * table is a property here, with the type its row resolves to, and there is
 * no second list to keep in step. Durations are in milliseconds (`...Ms`).
 */
export type EngineConfig = Tree<Entry<(typeof CONFIG_SCHEMA)[number]>>;
