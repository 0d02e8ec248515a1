/**
 * Pseudo-terminals made by socat: a pair joined back to back (`pty` and `pty`), so that a program
 * that writes one end is a serial device for whoever opens the other; or a pty joined to a
 * program's stdin and stdout (`pty` and `EXEC:…`), so that the host program in --protocol mode
 * looks like a board on a serial port. socat prints each pty's path (`PTY is /dev/pts/N`) on
 * stderr with -d -d; we wait for those lines, with a timeout.
 *
 *   const bridge = await SocatBridge.start(['pty,raw,echo=0', 'pty,raw,echo=0']);
 *   bridge.ptys   // ['/dev/pts/3', '/dev/pts/4']
 *   await bridge.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { UserError } from '../util/errors.js';

/** A pty in raw mode without echo: bytes pass unchanged in both directions. */
export const RAW_PTY = 'pty,raw,echo=0';

const START_TIMEOUT_MS = 5000;

/**
 * A running socat joining two addresses: made by `start`, which resolves once socat has printed its ptys'
 * paths; `stop` ends it (it is killed when Node exits, too). Throws a UserError when socat is missing or fails.
 */
export class SocatBridge {
  private exited = false;
  private readonly exit: Promise<void>;
  private readonly killOnExit = () => this.child.kill('SIGKILL');

  private constructor(
    private readonly child: ChildProcess,
    /** The paths of the ptys, in the order of the addresses given. */
    readonly ptys: string[],
    private readonly said: { text: string },
  ) {
    this.exit = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once('exit', () => resolve());
    });
    void this.exit.then(() => {
      this.exited = true;
      process.off('exit', this.killOnExit);
    });
    process.on('exit', this.killOnExit); // never leave socat behind, even when Node exits abruptly
  }

  /** Starts socat with two addresses, each a pty (`RAW_PTY`) or anything socat takes (`EXEC:…`). */
  static async start(addresses: [string, string]): Promise<SocatBridge> {
    const expected = addresses.filter((a) => /^pty\b/i.test(a)).length;
    const child = spawn('socat', ['-d', '-d', ...addresses], { stdio: ['ignore', 'ignore', 'pipe'] });
    const said = { text: '' };
    const ptys: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(
        () => fail(new UserError(`socat did not make its pseudo-terminals within ${START_TIMEOUT_MS / 1000} s. It said:\n${said.text}`)),
        START_TIMEOUT_MS,
      );
      const onError = (err: NodeJS.ErrnoException) =>
        fail(
          err.code === 'ENOENT'
            ? new UserError(
                'socat is needed to make a pseudo-terminal: install it (Debian/Ubuntu: apt-get install socat; macOS: brew install socat).',
              )
            : new UserError(`cannot start socat: ${err.message}`),
        );
      const onExit = (code: number | null) =>
        fail(new UserError(`socat exited (${code}) before making its pseudo-terminals. It said:\n${said.text}`));
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        child.off('error', onError);
        child.off('exit', onExit);
      };
      function fail(err: Error) {
        if (settled) return;
        settle();
        child.kill('SIGKILL');
        reject(err);
      }
      child.on('error', onError);
      child.on('exit', onExit);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (text: string) => {
        said.text = (said.text + text).slice(-8192);
        if (settled) return;
        for (const m of text.matchAll(/PTY is (\S+)/g)) ptys.push(m[1]);
        if (ptys.length >= expected && /starting data transfer loop/.test(said.text)) {
          settle();
          child.on('error', () => {}); // a late error (killing a process that just exited) is not ours to report
          resolve();
        }
      });
    });
    return new SocatBridge(child, ptys, said);
  }

  /** Whether socat still runs. */
  get running(): boolean {
    return !this.exited;
  }

  /** Resolves when socat exits (on its own, or after stop()). */
  whenExited(): Promise<void> {
    return this.exit;
  }

  /** What socat said last (for error messages). */
  get log(): string {
    return this.said.text;
  }

  /**
   * Ends socat (its ptys disappear): SIGTERM, then SIGKILL if it lingers (socat takes a second or
   * more to exit on SIGTERM; nothing of it needs a graceful end). Never throws, never hangs.
   */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const lingered = await Promise.race([this.exit.then(() => false), wait(200).then(() => true)]);
    if (lingered) {
      this.child.kill('SIGKILL');
      await Promise.race([this.exit, wait(1000)]);
    }
  }
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
