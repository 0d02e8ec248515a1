/**
 * Deployment over SSH end to end, against a real sshd started by the test on 127.0.0.1 (sshd.ts):
 * the "Pi" is this machine, the program the host build of stories260K. `flash --host` copies it,
 * `monitor --host` runs it over SSH in protocol mode and its tokens must be the reference engine's;
 * the failures (a port nobody listens on, a key the server refuses, a program for another
 * architecture, no build, nothing deployed) must be messages, never stack traces; --serial must
 * install the service's unit and issue the systemctl commands.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { deployOverSsh } from '../../src/pi/ssh-deploy.js';
import { sshConnector } from '../../src/pi/ssh-link.js';
import { Monitor } from '../../src/serial/monitor.js';
import type { MonitorSink } from '../../src/serial/monitor-output.js';
import { build } from '../../src/toolchain/build.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { monitorJsonIdLines, runEngine } from '../helpers/engine-run.js';
import { rejectedUserError } from '../helpers/errors.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { TestSshd } from '../helpers/sshd.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};

/** An ELF header for an AArch64 Linux program: enough for flash to take a build for a Pi's. */
function fakeAarch64Program(path: string): void {
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0); // \x7fELF
  header[4] = 2; // 64-bit
  header[5] = 1; // little-endian
  header[6] = 1;
  header.writeUInt16LE(2, 16); // an executable
  header.writeUInt16LE(183, 18); // EM_AARCH64
  writeFileSync(path, header);
  chmodSync(path, 0o755);
}

/** The pids of the processes running `program` (from /proc: here the "Pi" is this machine). */
function pidsRunning(program: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === program;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('pi targets: deployment over SSH, against a real sshd on 127.0.0.1', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make', 'ssh', 'ssh-keygen', 'sshd');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-ssh-');
  const buildDir = join(tmp.dir, 'build-host');
  const remoteDir = join(tmp.dir, 'on the pi'); // a space: every path must be quoted on the way
  const stories = stories260K; // looked up when read, after needs()
  let sshd: TestSshd | undefined;

  before(async () => {
    sshd = await TestSshd.start(join(tmp.dir, 'sshd'));
    await build({ target: 'host', ...stories, quant: 'f32', out: buildDir }, quiet);
  });
  after(async () => {
    await sshd?.stop();
    tmp.cleanup();
  });

  const ssh = () => sshd!;
  const hostArgs = () => ['--host', ssh().host, '--path', remoteDir, ...ssh().cliOptions()];

  it('flash --target host --host copies the program and its build-info.json into --path, says each step, and leaves no temporary file', () => {
    const r = cli(['flash', '--target', 'host', buildDir, ...hostArgs()]);
    expect(r.status, `${r.stderr}\nsshd:\n${ssh().output}`).to.equal(0);
    for (const step of ['[1/4] the build', `[2/4] connecting to ${ssh().host}`, '[3/4] copying llama2', '[4/4] putting it in place'])
      expect(r.stderr).to.contain(step);
    expect(r.stderr).to.match(/Linux x86_64|Linux aarch64/);
    expect(r.stderr).to.contain('SHA-256 checked');
    expect(r.stderr).to.contain(`llama2-embed monitor --target host --host ${ssh().host}`);
    expect(readdirSync(remoteDir).sort()).to.deep.equal(['build-info.json', 'llama2']);
    expect(readFileSync(join(remoteDir, 'llama2')).equals(readFileSync(join(buildDir, 'llama2')))).to.equal(true);
    expect(readFileSync(join(remoteDir, 'build-info.json'), 'utf8')).to.equal(readFileSync(join(buildDir, 'build-info.json'), 'utf8'));
    expect(statSync(join(remoteDir, 'llama2')).mode & 0o111).to.not.equal(0);
    // the deployed program runs where it landed
    const run = spawnSync(join(remoteDir, 'llama2'), ['-i', 'Once upon a time', '-t', '0', '-n', '8'], { encoding: 'utf8' });
    expect(run.stdout).to.match(/^Once upon a time/);
  });

  it("monitor --host runs it over SSH in protocol mode: its tokens are the reference engine's, greedy and sampled", () => {
    const loaded = loadForGeneration(stories);
    for (const { prompt, steps, temperature, topp, seed } of [
      { prompt: 'Once upon a time', steps: 60, temperature: 0, topp: 0.9, seed: 1 },
      { prompt: 'One day', steps: 120, temperature: 1, topp: 0.9, seed: 42 },
    ]) {
      const r = cli([
        'monitor',
        '--target',
        'host',
        '--build',
        buildDir,
        ...hostArgs(),
        '-i',
        prompt,
        '-n',
        String(steps),
        '-t',
        String(temperature),
        '-p',
        String(topp),
        '-s',
        String(seed),
        '--json',
      ]);
      expect(r.status, r.stderr).to.equal(0);
      const engine = runEngine(loaded.model, loaded.tokenizer.encode(prompt, true, false), steps, { temperature, topp, seed });
      expect(monitorJsonIdLines(r.stdout), prompt).to.deep.equal(engine.idLines);
      expect(r.stderr).to.contain(`connected to ${ssh().host}:${remoteDir}/llama2 over SSH: host running stories260K.bin`);
      expect(r.stderr).to.contain(`the build in ${buildDir}`);
    }
    expect(readFileSync(join(buildDir, 'model.h'), 'utf8')).to.match(/#define TARGET_NAME +"host"/); // what the HELLO above said
    // and as text
    const text = cli(['monitor', '--build', buildDir, ...hostArgs(), '-i', 'Once upon a time', '-n', '30', '-t', '0']);
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^Once upon a time, there was/);
    expect(text.stderr).to.match(/30 tokens in .* on the device/);
  });

  it('when the program on the Pi goes away between two generations, monitor runs it again for the next one', async () => {
    const notes: string[] = [];
    const sink: MonitorSink = { out: () => {}, note: (n: string) => notes.push(n) };
    const monitor = await Monitor.connect({
      baudRate: 115200,
      connector: sshConnector(ssh().destination(), remoteDir, 'flash first'),
      buildDir,
      json: false,
      timestamp: false,
      steps: 20,
      temperature: 0,
      topp: 0.9,
      seed: 1n,
      sink,
    });
    try {
      expect(await monitor.generate('Once upon a time')).to.include({ tokens: 20, reason: 'steps' });
      const program = join(remoteDir, 'llama2');
      const pids = pidsRunning(program);
      expect(pids, 'the program runs on the "Pi"').to.have.length(1);
      process.kill(pids[0], 'SIGKILL'); // the one this test started, through sshd
      await monitor.portLost;
      expect(monitor.disconnected).to.equal(true);
      expect(await monitor.generate('Once upon a time')).to.include({ tokens: 20, reason: 'steps' });
      expect(notes.join('\n')).to.contain(`${ssh().host}:${remoteDir}/llama2 went away (`);
      expect(notes.join('\n')).to.contain('reconnected to');
    } finally {
      await monitor.close();
    }
    expect(pidsRunning(join(remoteDir, 'llama2')), 'monitor.close() ends the program on the "Pi"').to.deep.equal([]);
  });

  it('flash --monitor deploys, then generates over SSH in the same command', () => {
    const again = join(tmp.dir, 'again');
    const r = cli([
      'flash',
      '--target',
      'host',
      buildDir,
      '--host',
      ssh().host,
      '--path',
      again,
      ...ssh().cliOptions(),
      '--monitor',
      '-i',
      'Once upon a time',
      '-t',
      '0',
      '-n',
      '20',
      '--build',
      buildDir,
    ]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('[4/4] putting it in place');
    expect(r.stdout).to.match(/^Once upon a time, there was/);
  });

  it('a port where no SSH server listens: "cannot reach", with what ssh said and what to do', async () => {
    const port = ssh().port === 65535 ? 65534 : ssh().port + 1; // sshd listens only on its own
    const r = cli([
      'flash',
      '--target',
      'host',
      buildDir,
      '--host',
      ssh().host,
      '--path',
      remoteDir,
      ...ssh().cliOptions(ssh().identity, port),
    ]);
    const message = expectUserError(r);
    expect(message).to.contain(`cannot reach ${ssh().host} port ${port}`);
    expect(message).to.contain('Connection refused');
    expect(message).to.contain('--ssh-port');
    const m = expectUserError(
      cli(['monitor', '--host', ssh().host, '--path', remoteDir, ...ssh().cliOptions(ssh().identity, port), '-i', 'x']),
    );
    expect(m).to.contain(`cannot reach ${ssh().host} port ${port}`);
  });

  it('a key the server does not accept: "refused the login", never a password prompt', () => {
    const message = expectUserError(
      cli(['flash', '--target', 'host', buildDir, '--host', ssh().host, '--path', remoteDir, ...ssh().cliOptions(ssh().wrongIdentity)]),
    );
    expect(message).to.contain(`${ssh().host} refused the login: authentication failed`);
    expect(message).to.contain('Permission denied');
    expect(message).to.contain(`ssh-copy-id ${ssh().host}`);
    const m = expectUserError(
      cli(['monitor', '--host', ssh().host, '--path', remoteDir, ...ssh().cliOptions(ssh().wrongIdentity), '-i', 'x']),
    );
    expect(m).to.contain('refused the login');
  });

  it('an AArch64 program for a machine that is not: "wrong architecture", and nothing copied', () => {
    const piBuild = join(tmp.dir, 'build-rpi4');
    mkdirSync(piBuild);
    writeFileSync(join(piBuild, 'build-info.json'), JSON.stringify({ target: 'rpi4', model: stories.model }));
    fakeAarch64Program(join(piBuild, 'llama2'));
    const elsewhere = join(tmp.dir, 'not-copied');
    const message = expectUserError(
      cli(['flash', '--target', 'rpi4', piBuild, '--host', ssh().host, '--path', elsewhere, ...ssh().cliOptions()]),
    );
    const machine = process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : process.arch;
    if (machine !== 'aarch64') {
      expect(message).to.contain(`${ssh().host} is ${machine}`);
      expect(message).to.contain('(uname -m), but the rpi4 program is for aarch64 (64-bit Arm)');
      expect(existsSync(elsewhere)).to.equal(false);
    }
  });

  it('no build for the target yet, and a build for another target: say which and how to build', () => {
    const cwd = join(tmp.dir, 'empty-project');
    mkdirSync(cwd);
    const none = expectUserError(cli(['flash', '--target', 'rpi5', ...hostArgs()], { cwd }));
    expect(none).to.contain(`no build for rpi5 in ${join(cwd, 'build', 'rpi5')}`);
    expect(none).to.contain('llama2-embed build --target rpi5');
    const other = expectUserError(cli(['flash', '--target', 'rpi4', buildDir, ...hostArgs()]));
    expect(other).to.contain('is for target "host"');
    expect(other).to.contain('--target host');
  });

  it('monitor --host with nothing deployed at --path says to flash first', () => {
    const m = expectUserError(
      cli(['monitor', '--target', 'rpi4', '--host', ssh().host, '--path', join(tmp.dir, 'nothing here'), ...ssh().cliOptions(), '-i', 'x']),
    );
    expect(m).to.contain(`there is no program at ${ssh().host}:${join(tmp.dir, 'nothing here')}/llama2`);
    expect(m).to.contain(`llama2-embed flash --target rpi4 --host ${ssh().host}`);
  });

  it('--serial /dev/ttyGS0 installs the unit, enables it, and waits for the gadget port that this machine has not', async () => {
    // stand-ins on the sessions' PATH (sshd's SetEnv): systemctl and sudo record what they are asked
    const calls = join(tmp.dir, 'systemctl-calls');
    writeFileSync(join(ssh().binDir, 'systemctl'), `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
    writeFileSync(join(ssh().binDir, 'sudo'), '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n', { mode: 0o755 });
    const systemdDir = join(tmp.dir, 'systemd');
    mkdirSync(systemdDir);
    const gadgetDir = join(tmp.dir, 'gadget');
    const lines: string[] = [];
    await deployOverSsh({
      build: buildDir,
      target: 'host',
      dest: ssh().destination(),
      remoteDir: gadgetDir,
      serial: '/dev/ttyGS0',
      report: (l) => lines.push(l),
      quiet: true,
      systemdDir,
    });
    const unit = readFileSync(join(systemdDir, 'llama2-embed-ttyGS0.service'), 'utf8');
    expect(unit).to.contain(`ExecStart=${gadgetDir}/llama2 --protocol --serial-device /dev/ttyGS0`);
    expect(unit).to.contain('BindsTo=dev-ttyGS0.device');
    expect(unit).to.contain('WantedBy=dev-ttyGS0.device');
    expect(unit).to.contain('Conflicts=serial-getty@ttyGS0.service');
    expect(unit).to.contain('Restart=always');
    expect(readFileSync(join(gadgetDir, 'llama2-embed-ttyGS0.service'), 'utf8')).to.equal(unit);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).to.deep.equal(['daemon-reload', 'enable llama2-embed-ttyGS0.service']);
    expect(lines.join('\n')).to.contain('[5/5] the service that serves the protocol on /dev/ttyGS0');
    expect(lines.join('\n')).to.contain('has no /dev/ttyGS0 yet');
  });

  it('--serial with sudo that wants a password: says so and how to install the unit by hand', async () => {
    writeFileSync(join(ssh().binDir, 'sudo'), '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n', { mode: 0o755 });
    // not root, even when the tests run as root: `id -u` says 1000 (the rest of id is the real one)
    writeFileSync(join(ssh().binDir, 'id'), '#!/bin/sh\nif [ "$1" = -u ]; then echo 1000; else exec /usr/bin/id "$@"; fi\n', {
      mode: 0o755,
    });
    try {
      const err = await rejectedUserError(
        deployOverSsh({
          build: buildDir,
          target: 'host',
          dest: ssh().destination(),
          remoteDir: join(tmp.dir, 'gadget2'),
          serial: '/dev/ttyGS0',
          report: quiet,
          quiet: true,
          systemdDir: join(tmp.dir, 'systemd'),
        }),
      );
      expect(err.message).to.contain(`sudo on ${ssh().host} asks for a password`);
      expect(err.message).to.contain(`sudo install -m 644 ${join(tmp.dir, 'gadget2')}/llama2-embed-ttyGS0.service /etc/systemd/system/`);
      expect(err.message).to.contain('sudo systemctl enable --now llama2-embed-ttyGS0.service');
    } finally {
      rmSync(join(ssh().binDir, 'id'));
      rmSync(join(ssh().binDir, 'sudo'));
    }
  });
});
