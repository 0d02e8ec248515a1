/**
 * `build --on-device --host`: the C project written here, compiled on the "Pi" over SSH, against a
 * real sshd started by the test on 127.0.0.1 (sshd.ts): the "Pi" is this machine, its gcc and make
 * the native ones, the target host. The program must land at <path>/llama2 with its
 * build-info.json, as flash --host leaves it, and `monitor --host` must run it there with the
 * reference engine's tokens; the failures (no --host, no gcc on the Pi, a compile error) must be
 * messages, never stack traces.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { compileOnDevice } from '../../src/pi/ssh-build.js';
import { loadTarget } from '../../src/plan/target.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { monitorJsonIdLines, runEngine } from '../helpers/engine-run.js';
import { rejectedUserError } from '../helpers/errors.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { TestSshd } from '../helpers/sshd.js';
import { needs } from '../helpers/needs.js';

describe('pi targets: build --on-device, compiled over SSH on a real sshd on 127.0.0.1', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make', 'ssh', 'ssh-keygen', 'sshd');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-ssh-build-');
  const outDir = join(tmp.dir, 'build-host');
  const remoteDir = join(tmp.dir, 'on the pi'); // a space: every path must be quoted on the way
  const stories = stories260K; // looked up when read, after needs()
  const modelArgs = (): string[] => ['-m', stories.model, '-z', stories.tokenizer, '--quant', 'f32'];
  let sshd: TestSshd | undefined;

  before(async () => {
    sshd = await TestSshd.start(join(tmp.dir, 'sshd'));
  });
  after(async () => {
    await sshd?.stop();
    tmp.cleanup();
  });

  const ssh = () => sshd!;
  const hostArgs = () => ['--host', ssh().host, '--path', remoteDir, ...ssh().cliOptions()];

  it('build --target host --on-device --host writes the project here, compiles it there, and leaves <path>/llama2 and build-info.json', () => {
    const r = cli(['build', '--target', 'host', ...modelArgs(), '-o', outDir, '--on-device', ...hostArgs(), '--verbose']);
    expect(r.status, `${r.stderr}\nsshd:\n${ssh().output}`).to.equal(0);
    for (const step of [
      '[3/4] writing the C project',
      `[4/4] compiling on ${ssh().host}`,
      `connecting to ${ssh().host}`,
      'copying the C project',
      'compiling forward.c',
      'linking',
    ]) {
      expect(r.stderr).to.contain(step);
    }
    expect(r.stderr).to.contain(`${ssh().host}:${remoteDir}/llama2 (host, compiled on ${ssh().host})`);
    expect(r.stderr).to.contain(`llama2-embed monitor --target host --host ${ssh().host} --path ${remoteDir}`);
    // the program and its record where flash --host puts them; the project beside them, without anything compiled here
    expect(readdirSync(remoteDir).sort()).to.deep.equal(['build-info.json', 'llama2', 'project']);
    expect(existsSync(join(outDir, 'llama2')), 'nothing compiled here').to.equal(false);
    expect(readdirSync(outDir).filter((f) => f.endsWith('.o'))).to.deep.equal([]);
    const info = JSON.parse(readFileSync(join(outDir, 'build-info.json'), 'utf8')) as { target: string; executable: string };
    expect(info.target).to.equal('host');
    expect(info.executable).to.equal(`${ssh().host}:${remoteDir}/llama2`);
    expect(readFileSync(join(remoteDir, 'build-info.json'), 'utf8')).to.equal(readFileSync(join(outDir, 'build-info.json'), 'utf8'));
    expect(readFileSync(join(remoteDir, 'project', 'weights.bin')).equals(readFileSync(join(outDir, 'weights.bin')))).to.equal(true);
  });

  it("the program on the Pi generates the reference engine's tokens: plainly over ssh, and through monitor --host", () => {
    const loaded = loadForGeneration(stories);
    const prompt = 'Once upon a time';
    const steps = 40;
    const engine = runEngine(loaded.model, loaded.tokenizer.encode(prompt, true, false), steps, { temperature: 0, topp: 0.9, seed: 1 });
    // ssh HOST <path>/llama2 --format ids, as a user would
    const dest = ssh().destination();
    const sshArgs = [
      ...dest.options!.flatMap((o) => ['-o', o]),
      '-i',
      dest.identity!,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-p',
      String(dest.port),
      dest.host,
    ];
    const plain = spawnSync('ssh', [...sshArgs, `'${remoteDir}/llama2' -i '${prompt}' -n ${steps} -t 0 --format ids`], {
      encoding: 'utf8',
    });
    expect(plain.status, plain.stderr).to.equal(0);
    expect(plain.stdout.split('\n').filter((l) => /^[PG] \d+$/.test(l))).to.deep.equal(engine.idLines);
    const r = cli([
      'monitor',
      '--target',
      'host',
      '--build',
      outDir,
      ...hostArgs(),
      '-i',
      prompt,
      '-n',
      String(steps),
      '-t',
      '0',
      '-s',
      '1',
      '--json',
    ]);
    expect(r.status, r.stderr).to.equal(0);
    expect(monitorJsonIdLines(r.stdout)).to.deep.equal(engine.idLines);
    expect(r.stderr).to.contain(`connected to ${ssh().host}:${remoteDir}/llama2 over SSH: host running stories260K.bin`);
    expect(r.stderr).to.not.contain('runs other weights');
  });

  it('--on-device without --host, --host without --on-device, and run --on-device: usage errors that say what to give', () => {
    const noHost = expectUserError(cli(['build', '--target', 'rpi4', ...modelArgs(), '-o', join(tmp.dir, 'unused'), '--on-device']), 2);
    expect(noHost).to.contain('--on-device compiles on a Raspberry Pi over SSH: give it with --host');
    const noOnDevice = expectUserError(
      cli(['build', '--target', 'rpi4', ...modelArgs(), '-o', join(tmp.dir, 'unused'), '--host', 'pi@raspberrypi.local']),
      2,
    );
    expect(noOnDevice).to.contain('--host goes with --on-device');
    expect(noOnDevice).to.contain('llama2-embed flash --target rpi4 --host pi@raspberrypi.local');
    const firmware = expectUserError(
      cli(['build', '--target', 'rp2040', ...modelArgs(), '-o', join(tmp.dir, 'unused'), '--on-device', '--host', 'pi@raspberrypi.local']),
      2,
    );
    expect(firmware).to.contain("microcontroller's firmware");
    const run = expectUserError(cli(['run', '--target', 'rpi4', '--on-device', '-i', 'x']), 2);
    expect(run).to.contain('build --target rpi4 --on-device --host');
    expect(existsSync(join(tmp.dir, 'unused'))).to.equal(false);
  });

  it('a Pi without gcc: "install build-essential on the Pi", and the program there is left as it was', () => {
    // a stand-in on the sessions' PATH (sshd's SetEnv), first: a gcc that does not run
    const gcc = join(ssh().binDir, 'gcc');
    writeFileSync(gcc, '#!/bin/sh\necho "sh: gcc: not found" >&2\nexit 127\n', { mode: 0o755 });
    const before = readFileSync(join(remoteDir, 'llama2'));
    try {
      const message = expectUserError(
        cli(['build', '--target', 'host', ...modelArgs(), '-o', join(tmp.dir, 'build-no-gcc'), '--on-device', ...hostArgs()]),
      );
      expect(message).to.contain(`${ssh().host} has no gcc to compile the program with`);
      expect(message).to.contain('install build-essential on the Pi: sudo apt install build-essential');
    } finally {
      rmSync(gcc);
    }
    expect(readFileSync(join(remoteDir, 'llama2')).equals(before)).to.equal(true);
  });

  it("a project that does not compile: the remote compiler's messages, and the previous program stays", async () => {
    const broken = join(tmp.dir, 'broken');
    cpSync(outDir, broken, { recursive: true });
    appendFileSync(join(broken, 'forward.c'), '\nthis is not C;\n');
    const before = readFileSync(join(remoteDir, 'llama2'));
    const lines: string[] = [];
    const err = await rejectedUserError(
      compileOnDevice({
        outDir: broken,
        target: loadTarget('host'),
        dest: ssh().destination(),
        remoteDir,
        buildInfo: '{}\n',
        report: (l) => lines.push(l),
        quiet: true,
      }),
    );
    expect(err.message).to.contain(`compiling the generated C project on ${ssh().host} failed (make exited with`);
    expect(err.message).to.contain(`${ssh().host}:${remoteDir}/project`);
    expect(err.message).to.match(/forward\.c:\d+:\d+: error:/);
    expect(lines.join('\n')).to.contain('compiling forward.c');
    expect(readFileSync(join(remoteDir, 'llama2')).equals(before)).to.equal(true);
    expect(readFileSync(join(remoteDir, 'build-info.json'), 'utf8')).to.not.equal('{}\n');
  });
});
