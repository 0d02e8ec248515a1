/**
 * A real OpenSSH server for the SSH deployment tests: Debian's /usr/sbin/sshd started by the test
 * on 127.0.0.1 and a free port, as the current user, with a throwaway host key and client key
 * made by ssh-keygen in a temporary directory. The "Pi" is this machine.
 *
 *   const sshd = await TestSshd.start(dir);          // in a describe that says needs('sshd', 'ssh-keygen')
 *   cli(['flash', '--host', sshd.host, ...sshd.cliOptions]);
 *   await sshd.stop();                                 // always: after() calls it
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, chmodSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { findTool, toolRequirement } from '../../src/doctor/requirements.js';
import type { SshDestination } from '../../src/pi/ssh-client.js';

/** The sshd the tests start: where doctor finds it (PATH, then /usr/sbin). Tests say needs('sshd', 'ssh-keygen'). */
export const SSHD = findTool(toolRequirement('sshd')) ?? '/usr/sbin/sshd';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class TestSshd {
  private log = '';
  private readonly exited: Promise<void>;
  private readonly killOnExit = () => this.child.kill('SIGKILL');

  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly port: number,
    /** user@127.0.0.1 */
    readonly host: string,
    /** The client key sshd accepts, and one it does not. */
    readonly identity: string,
    readonly wrongIdentity: string,
    /** Where the sessions' PATH starts: the test's stand-ins for commands (sudo, systemctl). */
    readonly binDir: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr!.setEncoding('utf8').on('data', (t: string) => (this.log = (this.log + t).slice(-20_000)));
    process.on('exit', this.killOnExit); // never leave sshd behind, even if the test process dies
  }

  /** Starts sshd in `dir` and waits until it listens. */
  static async start(dir: string): Promise<TestSshd> {
    const user = userInfo().username;
    const binDir = join(dir, 'bin');
    mkdirSync(binDir, { recursive: true });
    for (const key of ['host_key', 'client_key', 'other_key'])
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `llama2-embed test ${key}`, '-f', join(dir, key)]);
    copyFileSync(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
    // as root, sshd needs its privilege separation directory (the package's service makes it at start)
    if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_key')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AllowUsers ${user}`,
        'StrictModes no',
        'UsePAM no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        `SetEnv PATH=${binDir}:/usr/local/bin:/usr/bin:/bin`,
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    for (const key of ['client_key', 'other_key']) chmodSync(join(dir, key), 0o600);
    const child = spawn(SSHD, ['-f', config, '-D', '-e'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const sshd = new TestSshd(child, dir, port, `${user}@127.0.0.1`, join(dir, 'client_key'), join(dir, 'other_key'), binDir);
    await sshd.waitListening();
    return sshd;
  }

  private waitListening(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`sshd did not start listening within 10 s:\n${this.log}`)), 10_000);
      const check = () => {
        if (/Server listening on/.test(this.log)) {
          done();
          resolve();
        }
      };
      const onExit = () => fail(new Error(`sshd exited at start:\n${this.log}`));
      const fail = (err: Error) => {
        done();
        void this.stop().then(() => reject(err));
      };
      const done = () => {
        clearTimeout(timer);
        this.child.stderr!.off('data', check);
        this.child.off('exit', onExit);
      };
      this.child.stderr!.on('data', check);
      this.child.once('exit', onExit);
      check();
    });
  }

  /** What sshd logged (for assertion messages). */
  get output(): string {
    return this.log;
  }

  /** The destination with the test's key and known-hosts file. */
  destination(identity = this.identity): SshDestination {
    return { host: this.host, port: this.port, identity, options: this.sshOptions };
  }

  /** -o options: a known-hosts file of its own, and no question about the throwaway host key. */
  get sshOptions(): string[] {
    return [`UserKnownHostsFile=${join(this.dir, 'known_hosts')}`, 'StrictHostKeyChecking=no'];
  }

  /** The same, as flash's and monitor's command-line options. */
  cliOptions(identity = this.identity, port = this.port): string[] {
    return ['--ssh-port', String(port), '--identity', identity, ...this.sshOptions.flatMap((o) => ['--ssh-option', o])];
  }

  /** Stops sshd (SIGTERM, then SIGKILL) and waits for it to exit. Never throws. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(timer);
    }
    process.off('exit', this.killOnExit);
  }
}
