/**
 * Private Redis and PostgreSQL servers on loopback, in a temporary
 * directory, for the fleet's tests and `bench fleet`: nothing persists and
 * nothing outlives stop(). Both come from Debian's packages (`redis-server`,
 * `postgresql`), which `.ci/run` installs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import os from 'node:os';
import path from 'node:path';

/** The Debian package's binaries (postgresql-15). */
export const POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin';
/** PostgreSQL refuses to run as root: under root it runs as this unprivileged system user (every Debian has it). */
const POSTGRES_UNPRIVILEGED_USER = 'nobody';
/** How long a server may take to accept its first connection before start() gives up. */
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 50;

/** A free loopback TCP port, as the kernel hands one out. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Resolves once `attempt` succeeds, trying again every READY_POLL_MS: a
 * starting server has nothing to wait on. Throws what `exited` says as soon
 * as it says something (the server's process ended), and, past
 * READY_TIMEOUT_MS, `timedOut`'s message with the last attempt's error as
 * its cause.
 */
async function pollUntilReady(attempt: () => Promise<void>, timedOut: (error: unknown) => string, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const why = exited();
    if (why !== null) throw new Error(why);
    try {
      await attempt();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(timedOut(error), { cause: error });
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

/** Resolves once a TCP connection to the port succeeds. */
function acceptsConnections(port: number, exited: () => string | null): Promise<void> {
  const connects = () =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  return pollUntilReady(connects, () => `nothing accepted connections on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms`, exited);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

/** Resolves once the server answers a query: it accepts connections while it still starts up, and refuses them then. */
function answersQueries(url: string, exited: () => string | null): Promise<void> {
  const answers = async () => {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return pollUntilReady(answers, (error) => `${url} answered no query within ${READY_TIMEOUT_MS} ms: ${(error as Error).message}`, exited);
}

export class PrivateRedis {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private child: ChildProcess,
    /** Whether the server keeps its data across pause() and resume(), as a production Redis with an append-only file does. */
    readonly persistent: boolean,
  ) {}

  /** redis://127.0.0.1:PORT */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts `redis-server` on a free loopback port (or `port`) in a new
   * temporary directory; without persistence unless `persistent`, which
   * keeps an append-only file synced at every write.
   */
  static async start(port?: number, dir?: string, persistent = false): Promise<PrivateRedis> {
    const chosen = port ?? (await freePort());
    const workDir = dir ?? mkdtempSync(path.join(os.tmpdir(), 'ouroboros-redis-'));
    const child = spawnRedis(chosen, workDir, persistent);
    const server = new PrivateRedis(chosen, workDir, child, persistent);
    await server.waitReady();
    return server;
  }

  private async waitReady(): Promise<void> {
    let stderr = '';
    this.child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await acceptsConnections(this.port, () =>
      this.child.exitCode !== null ? `redis-server exited with ${this.child.exitCode} before it listened: ${stderr.trim() || 'no output'}` : null,
    );
  }

  /** Kills the server at once (SIGKILL), as a crash or a lost host would: the clients see the connection drop. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same port, empty unless persistent. */
  async restart(): Promise<void> {
    await this.kill();
    await this.resume();
  }

  /** Shuts the server down in order (SIGTERM: a persistent server has its data on disk), keeping its directory for resume(). */
  async pause(): Promise<void> {
    await stopChild(this.child);
  }

  /** Starts the server again on the same port and directory after pause() or kill(). */
  async resume(): Promise<void> {
    this.child = spawnRedis(this.port, this.dir, this.persistent);
    await this.waitReady();
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function spawnRedis(port: number, dir: string, persistent: boolean): ChildProcess {
  const persistence = persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--loglevel', 'warning'];
  return spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication on loopback only). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /**
   * initdb into a new temporary directory, then `postgres` on a free loopback
   * port with its socket in that directory. Run by root (as CI is), both run
   * as POSTGRES_UNPRIVILEGED_USER through runuser, since PostgreSQL refuses
   * root; the directory is handed to that user first.
   */
  static async start(): Promise<PrivatePostgres> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-postgres-'));
    const data = path.join(dir, 'data');
    const asRoot = process.getuid?.() === 0;
    const command = (binary: string, args: string[]): [string, string[]] =>
      asRoot
        ? ['runuser', ['-u', POSTGRES_UNPRIVILEGED_USER, '--', path.join(POSTGRES_BIN_DIR, binary), ...args]]
        : [path.join(POSTGRES_BIN_DIR, binary), args];
    if (asRoot) {
      execFileSync('chown', [POSTGRES_UNPRIVILEGED_USER, dir]);
      chmodSync(dir, 0o700);
    }
    const [initdb, initArgs] = command('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    execFileSync(initdb, initArgs, { stdio: 'pipe' });
    const [postgres, args] = command('postgres', ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off']);
    const child = spawn(postgres, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = (): string | null => (child.exitCode !== null ? `postgres exited with ${child.exitCode}: ${stderr.trim() || 'no output'}` : null);
    await acceptsConnections(port, exited);
    const server = new PrivatePostgres(port, dir, child);
    await answersQueries(server.url, exited);
    return server;
  }

  /**
   * Fast shutdown: the server ends its clients' sessions, which see their
   * connection lost, and exits. SIGINT goes to the postmaster itself (its pid
   * file's first line): runuser, the child under root, does not pass SIGINT on.
   */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      process.kill(Number(readFileSync(path.join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGINT');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
