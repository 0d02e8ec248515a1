/**
 * A deployed program's stdio over SSH as monitor's link to the device: `ssh HOST exec
 * DIR/llama2 --protocol`, whose stdin and stdout carry the serial protocol's frames unchanged
 * (no pseudo-terminal). It opens once the program has said something (its start-up delimiter
 * and HELLO) or fails with what ssh or the program said; it is lost when ssh exits (the Pi went
 * away, the program ended), and monitor then opens it again: a new ssh, a new program.
 *
 *   const connector = sshConnector({ host: 'pi@raspberrypi.local' }, '~/llama2-embed');
 *   await Monitor.connect({ …, connector });
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { DeviceConnector, OpenedDevice } from '../serial/monitor.js';
import type { ReopenOptions } from '../serial/port-choice.js';
import { LossWatch, linkStreams } from '../serial/link-streams.js';
import type { DeviceLink } from '../serial/session.js';
import { UserError } from '../util/errors.js';
import { CONNECT_TIMEOUT_SECONDS, spawnRemote, type SshDestination } from './ssh-client.js';
import { SSH_FAILED, sshFailure, sshMissing } from './ssh-failure.js';
import { displayRemote, remoteFile } from './ssh-shell.js';
import { PROGRAM_NAME } from './ssh-probe.js';

/** The remote command's exit status when there is no program to run. */
const NO_PROGRAM = 3;
/** How long the remote program may take to say anything after ssh connected (s). */
const START_TIMEOUT_SECONDS = CONNECT_TIMEOUT_SECONDS + 20;

/** The command that runs the deployed program in protocol mode, or says that there is none. */
export function protocolCommand(remoteDir: string): string {
  const program = remoteFile(remoteDir, PROGRAM_NAME);
  return `p=${program}; if [ ! -x "$p" ]; then echo "no program at $p" >&2; exit ${NO_PROGRAM}; fi; exec "$p" --protocol`;
}

/**
 * The deployed program's stdio over one ssh process, as monitor's connection to the device: opened by
 * `open`, lost when ssh exits, and `close` ends the program.
 */
export class SshProgramConnection {
  private readonly listeners = new Set<(bytes: Buffer) => void>();
  private readonly loss = new LossWatch();
  private closing = false;
  private readonly exited: Promise<void>;
  /** Resolves with the reason once the link is gone (ssh ended, the program exited, it was closed). */
  readonly lost: Promise<string> = this.loss.lost;

  private constructor(
    readonly path: string,
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly describeExit: () => string,
  ) {
    child.stdout.on('data', (bytes: Buffer) => {
      for (const listener of this.listeners) listener(bytes);
    });
    child.stdin.on('error', () => {}); // the program or ssh is gone: `close` says why
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    void this.exited.then(() => this.markLost(this.closing ? 'the connection was closed' : this.describeExit()));
    process.once('exit', this.killOnExit);
  }

  private readonly killOnExit = () => {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  };

  /**
   * Runs the program in `remoteDir` over SSH and waits until it speaks. Fails with a UserError
   * that says why: the host cannot be reached, the login was refused, no program was deployed,
   * the program refused to run (an rpi5 build on a Pi 4).
   */
  static open(dest: SshDestination, remoteDir: string, deployHint: string): Promise<SshProgramConnection> {
    const path = displayRemote(dest.host, remoteDir, PROGRAM_NAME);
    const child = spawnRemote(dest, protocolCommand(remoteDir), { keepAlive: true, detached: true });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    let established = false;
    const describeExit = () => exitReason(dest, path, child, stderr, deployHint, established);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new UserError(
            `the program at ${path} did not start within ${START_TIMEOUT_SECONDS} s${stderr.trim() ? ` (it said: ${stderr.trim()})` : ''}.`,
          ),
        );
      }, START_TIMEOUT_SECONDS * 1000);
      const done = () => {
        clearTimeout(timer);
        child.stdout.off('data', onFirstBytes);
        child.off('close', onClose);
        child.off('error', onError);
      };
      const onFirstBytes = () => {
        done();
        established = true;
        resolve(new SshProgramConnection(path, child, describeExit));
      };
      const onClose = () => {
        done();
        reject(new UserError(describeExit()));
      };
      const onError = (e: NodeJS.ErrnoException) => {
        done();
        reject(e.code === 'ENOENT' ? sshMissing(dest.command ?? 'ssh') : new UserError(`cannot run ssh: ${e.message}.`));
      };
      child.stdout.once('data', onFirstBytes); // the start-up delimiter, then its HELLO: the program runs
      child.once('close', onClose);
      child.once('error', onError);
    });
  }

  get isLost(): boolean {
    return this.loss.reason !== undefined;
  }

  get lostReason(): string | undefined {
    return this.loss.reason;
  }

  /** A fresh pair of streams, for one DeviceSession; ending its writable side detaches it and leaves the program running. */
  link(): DeviceLink {
    return linkStreams(this);
  }

  /** Calls `listener` with each chunk the program writes. Returns an unsubscribe function. */
  onData(listener: (bytes: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` once the link is lost (soon, if it already is). Returns an unsubscribe function. */
  onLost(listener: () => void): () => void {
    return this.loss.onLost(listener);
  }

  /** Writes bytes to the program's stdin, waiting for it to drain; rejects once the link is lost. */
  write(bytes: Uint8Array): Promise<void> {
    const lost = this.loss.reason;
    if (lost !== undefined) return Promise.reject(new Error(lost));
    return new Promise((resolve) => {
      if (this.child.stdin.write(bytes)) resolve();
      else this.child.stdin.once('drain', () => resolve());
    });
  }

  /** Ends the program (its stdin closes, so it exits), then ssh; kills them if they linger. Never throws. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.child.stdin.end();
    const waited = await Promise.race([this.exited.then(() => true), delay(3000).then(() => false)]);
    if (!waited) {
      this.child.kill('SIGTERM');
      if (!(await Promise.race([this.exited.then(() => true), delay(2000).then(() => false)]))) this.child.kill('SIGKILL');
    }
    this.markLost('the connection was closed');
    process.off('exit', this.killOnExit);
  }

  private markLost(reason: string): void {
    if (this.loss.reason !== undefined) return;
    this.loss.markLost(reason);
    if (!this.closing) process.off('exit', this.killOnExit);
  }
}

/**
 * Why ssh ended: its own failure to connect, no program deployed, the program's exit, or (once the
 * program ran) the connection's end: the network, the Pi gone, the program killed by a signal.
 */
function exitReason(
  dest: SshDestination,
  path: string,
  child: ChildProcessWithoutNullStreams,
  stderr: string,
  deployHint: string,
  established: boolean,
): string {
  const code = child.exitCode;
  const said = stderr.trim().split('\n').slice(-3).join(' / ');
  if (code === SSH_FAILED && established)
    return `the SSH connection to ${dest.host} ended${said ? ` (ssh said: ${said})` : ' (the program was killed, or the Pi went away)'}`;
  if (code === SSH_FAILED) return sshFailure(dest.host, stderr, { port: dest.port, connectTimeout: CONNECT_TIMEOUT_SECONDS }).message;
  if (code === NO_PROGRAM)
    return `there is no program at ${path}: deploy one first (${deployHint}), or give the --path it was deployed to.`;
  const how = code === null ? `was stopped by ${child.signalCode}` : `exited with status ${code}`;
  return `the program at ${path} ${how}${said ? `: ${said}` : ''}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** monitor's connector for a program deployed over SSH. */
export function sshConnector(dest: SshDestination, remoteDir: string, deployHint: string): DeviceConnector {
  const open = async (): Promise<OpenedDevice> => {
    const connection = await SshProgramConnection.open(dest, remoteDir, deployHint);
    return { connection, description: connection.path };
  };
  return {
    open,
    via: 'over SSH',
    reopen: async (previous: OpenedDevice, options: ReopenOptions) => {
      const deadline = Date.now() + options.waitSeconds * 1000;
      let last: string;
      for (;;) {
        if (options.signal?.aborted) throw new UserError('stopped while waiting for the Pi to come back.');
        try {
          return await open();
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          last = err.message;
        }
        if (Date.now() >= deadline) {
          throw new UserError(
            `${previous.connection.path} did not come back within ${options.waitSeconds} s (last attempt: ${last}). Check that the Pi is on and reachable, then run monitor again.`,
          );
        }
        await delay(options.pollMs ?? 1000);
      }
    },
  };
}
