import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ControlReply, ControlRequest } from '../dist/ts/cli/control-protocol.js';
import { defaultSocketPath, sendRequest } from '../dist/ts/cli/control-protocol.js';
import { type ControlSocket, MAX_PENDING_PER_CONNECTION, MAX_REQUEST_BYTES, claimSocketPath, listenForControl } from '../dist/ts/cli/control-socket.js';
import { UnsafeDirectoryError, ensurePrivateDir, runtimeDirPath } from '../dist/ts/util/private-dir.js';

const cli = path.resolve('bin/ouroboros.js');
/** Tests that act as a second user need to be able to become one. */
const isRoot = process.geteuid?.() === 0;
const OTHER_UID = 65534;

const sockets: ControlSocket[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** A directory anyone may enter and write, like /tmp: where a socket is reachable by other users. */
function sharedDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-shared-'));
  chmodSync(dir, 0o1777);
  return dir;
}

function statusReply(): ControlReply {
  return { ok: false, error: 'status served' };
}

/** A server whose handler records what reached it. */
async function serve(socketPath: string, handle?: (request: ControlRequest) => Promise<ControlReply>, peerUid?: () => number) {
  const reached: ControlRequest[] = [];
  const socket = await listenForControl(
    socketPath,
    async (request) => {
      reached.push(request);
      return handle ? handle(request) : statusReply();
    },
    peerUid ? { peerUid } : {},
  );
  sockets.push(socket);
  return { socket, reached };
}

/** Writes `text` on a raw connection and collects reply lines until the server closes it or `lines` arrived. */
function exchange(socketPath: string, text: string, lines = Number.POSITIVE_INFINITY): Promise<{ replies: ControlReply[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const connection = net.createConnection(socketPath, () => connection.write(text));
    let received = '';
    const replies = () =>
      received
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as ControlReply);
    connection.setEncoding('utf8');
    connection.on('data', (chunk: string) => {
      received += chunk;
      if (replies().length >= lines) {
        connection.destroy();
        resolve({ replies: replies(), closed: false });
      }
    });
    connection.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    connection.on('close', () => resolve({ replies: replies(), closed: true }));
  });
}

/** Runs `node -e script` as another uid; resolves with its exit code and output. */
function runAs(uid: number, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, ...args],
      { encoding: 'utf8', env: { PATH: process.env.PATH, TMPDIR: os.tmpdir(), ...env }, cwd: os.tmpdir() },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the control socket answers only its own user', () => {
  it('binds its socket file with mode 0600 even under umask 000', async () => {
    const socketPath = path.join(sharedDir(), 'control.sock');
    const umask = process.umask(0);
    try {
      await serve(socketPath);
    } finally {
      process.umask(umask);
    }
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
  });

  it('refuses a peer whose credentials name another uid, before reading a request', async () => {
    const socketPath = path.join(sharedDir(), 'control.sock');
    const { reached } = await serve(socketPath, undefined, () => 4242);
    const { replies, closed } = await exchange(socketPath, '{"command":"stop"}\n');
    expect(closed).toBe(true);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ ok: false });
    expect((replies[0] as { error: string }).error).toMatch(/peer runs as uid 4242.*only its own user \(uid \d+\)/);
    expect(reached).toEqual([]);
  });

  it.runIf(isRoot)('refuses a real second user who reaches a socket made world-writable', async () => {
    const dir = sharedDir();
    const socketPath = path.join(dir, 'control.sock');
    const { reached } = await serve(socketPath);
    // What a careless chmod or a permissive umask on a shared path would leave.
    chmodSync(socketPath, 0o666);
    const client = path.join(dir, 'client.cjs');
    writeFileSync(
      client,
      `const c = require('node:net').createConnection(${JSON.stringify(socketPath)}, () => c.write('{"command":"stop"}\\n'));
       let t = ''; c.setEncoding('utf8').on('data', (d) => (t += d)).on('close', () => process.stdout.write(t));`,
    );
    chmodSync(client, 0o644);
    const result = await runAs(OTHER_UID, [client]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(new RegExp(`"ok":false.*peer runs as uid ${OTHER_UID}`));
    expect(reached).toEqual([]);
  });

  it.runIf(isRoot)('a client does not trust a server of another user squatting the path, and the squatter is not removed', async () => {
    const dir = sharedDir();
    const socketPath = path.join(dir, 'control.sock');
    const squatter = path.join(dir, 'squatter.cjs');
    // The client hangs up as soon as it sees the peer's uid, so the squatter's reply may meet a closed socket (EPIPE): it must outlive that.
    writeFileSync(
      squatter,
      `require('node:net').createServer((c) => c.on('error', () => {}).end('{"ok":true,"command":"status","stepCount":42}\\n'))
         .listen(${JSON.stringify(socketPath)}, () => { require('node:fs').chmodSync(${JSON.stringify(socketPath)}, 0o666); console.log('up'); });`,
    );
    chmodSync(squatter, 0o644);
    const child = spawn('setpriv', [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', process.execPath, squatter], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));

    await expect(sendRequest(socketPath, { command: 'status' })).rejects.toThrow(new RegExp(`runs as uid ${OTHER_UID}, not as this user .*not trusted`));
    await expect(claimSocketPath(socketPath)).rejects.toThrow(new RegExp(`a socket of uid ${OTHER_UID} is in the way.*not ours to remove`));
    expect(lstatSync(socketPath).isSocket()).toBe(true);
  });
});

describe('the control socket bounds what a client can make it do', () => {
  it('closes a connection whose request line outgrows the limit, with an error naming it', async () => {
    const socketPath = path.join(sharedDir(), 'control.sock');
    const { reached } = await serve(socketPath);
    const { replies, closed } = await exchange(socketPath, 'x'.repeat(MAX_REQUEST_BYTES + 10));
    expect(closed).toBe(true);
    expect(replies).toHaveLength(1);
    expect((replies[0] as { error: string }).error).toContain(`request line over ${MAX_REQUEST_BYTES} bytes (the limit)`);
    expect(reached).toEqual([]);
  });

  it('answers status and stop at once while a swap runs, and drops a connection that queues too many requests', async () => {
    const socketPath = path.join(sharedDir(), 'control.sock');
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    let swapStarted!: () => void;
    const started = new Promise<void>((resolve) => (swapStarted = resolve));
    const { reached } = await serve(socketPath, async (request) => {
      if (request.command === 'swap') {
        swapStarted();
        await blocked;
      }
      return { ok: false, error: `${request.command} served` };
    });
    const swap = '{"command":"swap","module":"/x.so","slot":"step"}\n';
    const flooder = net.createConnection(socketPath);
    let flooded = '';
    flooder.setEncoding('utf8').on('data', (chunk: string) => (flooded += chunk));
    flooder.on('error', () => undefined);
    const flooderClosed = new Promise<void>((resolve) => flooder.on('close', () => resolve()));
    flooder.write(swap);
    await started;

    const status = await exchange(socketPath, '{"command":"status"}\n', 1);
    expect(status.replies).toEqual([{ ok: false, error: 'status served' }]);
    const stop = await exchange(socketPath, '{"command":"stop"}\n', 1);
    expect(stop.replies).toEqual([{ ok: false, error: 'stop served' }]);

    // One swap is running; the connection may have MAX_PENDING_PER_CONNECTION waiting in all.
    flooder.write(swap.repeat(MAX_PENDING_PER_CONNECTION));
    await flooderClosed;
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(flooded).toBe(
      `${JSON.stringify({ ok: false, error: `more than ${MAX_PENDING_PER_CONNECTION} requests (the limit) are waiting for their replies on this connection` })}\n`,
    );
    // The swap that had started ran; the ones waiting behind it were dropped unanswered.
    expect(reached.map((request) => request.command)).toEqual(['swap', 'status', 'stop']);
  });

  it('removes at close only the socket file it made', async () => {
    const socketPath = path.join(sharedDir(), 'control.sock');
    const { socket } = await serve(socketPath);
    unlinkSync(socketPath);
    writeFileSync(socketPath, 'someone else put this here');
    socket.close();
    expect(existsSync(socketPath)).toBe(true);

    const second = path.join(sharedDir(), 'control.sock');
    (await serve(second)).socket.close();
    expect(existsSync(second)).toBe(false);
  });
});

describe('the private runtime directory', () => {
  it('is created 0700, has its group and other bits taken away, and refuses a symbolic link', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'ouro-private-'));
    const fresh = path.join(base, 'fresh');
    ensurePrivateDir(fresh);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);

    const lax = path.join(base, 'lax');
    mkdirSync(lax, { mode: 0o755 });
    chmodSync(lax, 0o755);
    ensurePrivateDir(lax);
    expect(statSync(lax).mode & 0o777).toBe(0o700);

    const link = path.join(base, 'link');
    symlinkSync(fresh, link);
    expect(() => ensurePrivateDir(link)).toThrow(UnsafeDirectoryError);
    expect(() => ensurePrivateDir(link)).toThrow(/is a symbolic link/);

    const file = path.join(base, 'file');
    writeFileSync(file, '');
    expect(() => ensurePrivateDir(file)).toThrow(/is not a directory/);
  });

  it.runIf(isRoot)('refuses a directory another user made at the path', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'ouro-private-'));
    const planted = path.join(base, 'planted');
    mkdirSync(planted, { mode: 0o700 });
    chownSync(planted, OTHER_UID, OTHER_UID);
    expect(() => ensurePrivateDir(planted)).toThrow(new RegExp(`belongs to uid ${OTHER_UID}`));
  });

  it('follows XDG_RUNTIME_DIR only when it is a directory of this user', () => {
    const xdg = mkdtempSync(path.join(os.tmpdir(), 'ouro-xdg-'));
    expect(runtimeDirPath({ XDG_RUNTIME_DIR: xdg })).toBe(path.join(xdg, 'ouroboros'));
    const uid = process.geteuid!();
    expect(runtimeDirPath({ XDG_RUNTIME_DIR: path.join(xdg, 'missing') })).toBe(path.join(os.tmpdir(), `ouroboros-${uid}`));
    expect(runtimeDirPath({ XDG_RUNTIME_DIR: 'relative/dir' })).toBe(path.join(os.tmpdir(), `ouroboros-${uid}`));
    expect(runtimeDirPath({})).toBe(path.join(os.tmpdir(), `ouroboros-${uid}`));
    expect(defaultSocketPath()).toBe(path.join(runtimeDirPath(), 'control.sock'));
  });

  it.runIf(isRoot)('lets every command run under a uid with no passwd entry', async () => {
    const uid = 4242;
    const help = await runAs(uid, [cli, '--help']);
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    const status = await runAs(uid, [cli, 'status']);
    expect(status.stderr).not.toMatch(/uv_os_get_passwd|ERR_SYSTEM_ERROR/);
    expect(status.stderr).toContain(`no simulation is listening on ${path.join(os.tmpdir(), `ouroboros-${uid}`, 'control.sock')}`);
    expect(status.code).toBe(1);
  });
});
