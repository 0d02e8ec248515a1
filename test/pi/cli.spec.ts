/**
 * `build --target rpi4` and `run --target rpi4` from the command line, as a user on an x86 machine
 * types them: the program is cross-built, and run runs it under qemu-aarch64 with the board's CPU.
 * Without the cross compiler or qemu, the messages say what to install.
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { emulatorFor } from '../../src/cli/run.js';
import { loadTarget } from '../../src/plan/target.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { readGoldenFile, tempDir } from '../helpers/fixtures.js';
import { requireNeeds } from '../helpers/needs.js';

describe('pi targets: build and run on the command line', function () {
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-pi-cli-');
  after(() => tmp.cleanup());
  /** A PATH with nothing on it: no compiler, no make, no qemu. */
  const emptyPath = join(tmp.dir, 'empty-path');
  before(() => mkdirSync(emptyPath));

  it('knows how qemu runs each board: qemu-aarch64 with the -mcpu the target is built for', () => {
    expect(emulatorFor(loadTarget('rpi4'))).to.deep.equal({ command: 'qemu-aarch64', args: ['-cpu', 'cortex-a72'], arch: 'aarch64' });
    expect(emulatorFor(loadTarget('rpi5'))).to.deep.equal({ command: 'qemu-aarch64', args: ['-cpu', 'cortex-a76'], arch: 'aarch64' });
    expect(emulatorFor(loadTarget('rpi-zero2'))).to.deep.equal({ command: 'qemu-aarch64', args: ['-cpu', 'cortex-a53'], arch: 'aarch64' });
    expect(emulatorFor(loadTarget('host'))).to.equal(undefined);
    expect(emulatorFor(loadTarget('rp2040'))).to.equal(undefined);
  });

  it("run --target rpi4 builds the program, runs it under qemu-aarch64 -cpu cortex-a72 and prints llama2.c's tokens", function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin', 'aarch64-linux-gnu-gcc', 'qemu-aarch64', 'make');
    const out = join(tmp.dir, 'rpi4');
    const r = cli(['run', '--target', 'rpi4', '-o', out, '-i', 'Once upon a time', '-t', '0', '--format', 'ids', '--verbose']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(readGoldenFile('stories260K_f32_greedy_once_upon_a_time.ids'));
    expect(r.stderr).to.contain('compiling with aarch64-linux-gnu-gcc');
    expect(r.stderr).to.contain('running under qemu-aarch64 -cpu cortex-a72');
    // a second run reuses the build
    const again = cli(['run', '--target', 'rpi4', '-o', out, '-i', 'Once upon a time', '-t', '0', '-n', '20', '--verbose']);
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stderr).to.not.contain('compiling');
    expect(again.stderr).to.not.match(/^built /m);
    expect(again.stdout).to.match(/^Once upon a time/);
  });

  it('run --target rpi4 without qemu-aarch64 says how to get it', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin', 'aarch64-linux-gnu-gcc', 'qemu-aarch64', 'make');
    // the program is already built (previous test): only qemu is missing
    const r = cli(['run', '--target', 'rpi4', '-o', join(tmp.dir, 'rpi4'), '-i', 'Once upon a time', '-t', '0', '--format', 'ids'], {
      env: { PATH: emptyPath },
    });
    const message = expectUserError(r);
    expect(message).to.contain('qemu-aarch64 was not found');
    expect(message).to.contain('apt-get install qemu-user');
    expect(message).to.contain(join(tmp.dir, 'rpi4', 'llama2'));
  });

  it('build --target rpi5 without aarch64-linux-gnu-gcc says which packages to install', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli(['build', '--target', 'rpi5', '-o', join(tmp.dir, 'rpi5')], { env: { PATH: emptyPath } });
    const message = expectUserError(r);
    expect(message).to.contain('aarch64-linux-gnu-gcc was not found; it is needed to build for rpi5');
    expect(message).to.contain('apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross');
  });

  it('run refuses a firmware target, as before', () => {
    expect(expectUserError(cli(['run', '--target', 'rp2040']), 2)).to.contain('use build, flash and monitor');
  });
});
