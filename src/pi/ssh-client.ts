/**
 * The user's own OpenSSH client, run as a child process: their keys, their ~/.ssh/config, their
 * known hosts. Always with BatchMode=yes (never a password prompt that would hang), a connect
 * timeout, and no pseudo-terminal, so that the remote command's stdin and stdout carry bytes
 * unchanged (a file being copied, the serial protocol).
 *
 *   const pi: SshDestination = { host: 'pi@raspberrypi.local' };
 *   const { stdout } = await runRemote(pi, 'uname -m');                    // throws SshError when ssh fails
 *   const child = spawnRemote(pi, "exec ~/llama2-embed/llama2 --protocol", { keepAlive: true });
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Readable } from 'node:stream';
import { UserError } from '../util/errors.js';
import { SSH_FAILED, sshFailure, sshMissing } from './ssh-failure.js';

export interface SshDestination {
  /** `user@host`, a host name or address, or a Host of ~/.ssh/config. */
  host: string;
  /** --ssh-port: the SSH server's port (default: ssh's own, 22 or ~/.ssh/config's). */
  port?: number;
  /** --identity: the private key to log in with. */
  identity?: string;
  /** --ssh-option KEY=VALUE: passed as -o, before ours (ssh keeps the first value it sees of each). */
  options?: string[];
  /** The ssh program (default "ssh"). */
  command?: string;
}

/** Seconds ssh waits for the connection before giving up. */
export const CONNECT_TIMEOUT_SECONDS = 10;

/** Refuses what ssh would take for something else than a destination (an option, two words). */
export function checkDestination(dest: SshDestination): void {
  if (!dest.host || dest.host.startsWith('-') || /\s/.test(dest.host)) {
    throw new UserError(`--host must be a user and a host name or address, like pi@raspberrypi.local, got "${dest.host}".`, 2);
  }
  if (dest.port !== undefined && (!Number.isInteger(dest.port) || dest.port < 1 || dest.port > 65535)) {
    throw new UserError(`--ssh-port must be a TCP port number from 1 to 65535, got ${dest.port}.`, 2);
  }
  for (const option of dest.options ?? []) {
    if (!/^[A-Za-z]+[= ]./.test(option))
      throw new UserError(`--ssh-option takes KEY=VALUE, as ssh -o does (e.g. StrictHostKeyChecking=yes), got "${option}".`, 2);
  }
}

/** ssh's arguments for running `command` on the destination. */
export function sshArgs(dest: SshDestination, command: string, options: { keepAlive?: boolean } = {}): string[] {
  const args: string[] = [];
  for (const option of dest.options ?? []) args.push('-o', option);
  if (dest.identity !== undefined) args.push('-i', dest.identity, '-o', 'IdentitiesOnly=yes');
  if (dest.port !== undefined) args.push('-p', String(dest.port));
  args.push(
    '-o',
    'BatchMode=yes', // never ask for a password or a passphrase: fail instead
    '-o',
    `ConnectTimeout=${CONNECT_TIMEOUT_SECONDS}`,
    '-o',
    'StrictHostKeyChecking=accept-new', // a new Pi is recorded, as a first `ssh` would after asking; a changed key is refused
  );
  if (options.keepAlive) args.push('-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3');
  args.push('-T', '-e', 'none', dest.host, command); // no pty, no escape character: the bytes pass unchanged
  return args;
}

/** How a command is shown in progress lines and messages. */
export function describeCommand(dest: SshDestination, command: string): string {
  return `ssh ${dest.host} ${command}`;
}

/**
 * Starts `command` on the destination; the caller owns the child process. `detached`: in a process
 * group of its own, so that Ctrl+C at the terminal reaches this program (monitor cancels the
 * generation) and not ssh (which would drop the connection).
 */
export function spawnRemote(
  dest: SshDestination,
  command: string,
  options: { keepAlive?: boolean; detached?: boolean } = {},
): ChildProcessWithoutNullStreams {
  return spawn(dest.command ?? 'ssh', sshArgs(dest, command, options), {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
}

export interface RemoteResult {
  /** The remote command's exit status. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** What to feed the remote command's stdin (nothing: it is closed at once). */
  input?: Readable | Buffer | string;
  /** Called with the total bytes of `input` handed to ssh so far. */
  onSent?: (bytes: number) => void;
}

/**
 * Runs `command` on the destination and resolves with its exit status and output. A failure of ssh
 * itself (exit status 255: the host cannot be reached, the login was refused) throws an SshError;
 * the remote command's own failures are the caller's to read.
 */
export function runRemote(dest: SshDestination, command: string, options: RunOptions = {}): Promise<RemoteResult> {
  const program = dest.command ?? 'ssh';
  const child = spawnRemote(dest, command);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.on('error', () => {}); // ssh exited before reading everything: its status says why
  const input = options.input;
  if (input === undefined) child.stdin.end();
  else if (typeof input === 'string' || Buffer.isBuffer(input)) {
    child.stdin.end(input);
    options.onSent?.(Buffer.byteLength(input));
  } else {
    let sent = 0;
    input.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (!child.stdin.write(chunk)) {
        input.pause();
        child.stdin.once('drain', () => input.resume());
      }
      options.onSent?.(sent);
    });
    input.on('end', () => child.stdin.end());
    input.on('error', (e) => {
      err.push(Buffer.from(`reading the local file failed: ${e.message}\n`));
      child.kill();
    });
    child.on('exit', () => input.destroy());
  }
  return new Promise((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? sshMissing(program) : new UserError(`cannot run ${program}: ${e.message}.`)),
    );
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === SSH_FAILED) {
        reject(sshFailure(dest.host, stderr, { port: dest.port, connectTimeout: CONNECT_TIMEOUT_SECONDS }));
        return;
      }
      resolve({ code: code ?? 128, stdout, stderr: signal ? `${stderr}ssh was stopped by ${signal}\n` : stderr });
    });
  });
}

/** Like runRemote, but the remote command must succeed: otherwise a UserError that says `what` failed and shows its stderr. */
export async function runRemoteOk(dest: SshDestination, command: string, what: string, options: RunOptions = {}): Promise<RemoteResult> {
  const result = await runRemote(dest, command, options);
  if (result.code !== 0) {
    const said = result.stderr.trim().split('\n').slice(-5).join('\n  ');
    throw new UserError(`${what} on ${dest.host} failed (exit status ${result.code})${said ? `:\n  ${said}` : ''}`);
  }
  return result;
}
