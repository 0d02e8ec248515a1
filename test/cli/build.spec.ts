/**
 * `build` and `run` from the command line: options checked before anything is loaded, plan's exit
 * status, a short default output (--verbose, --quiet), run reusing build's program, and builds
 * killed at any moment leaving the old output directory or the new one, never a mix.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFileProblems, readBuildInfo } from '../../src/toolchain/build-info.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { startCli } from '../helpers/cli-process.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

describe('cli: build and run', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('refuses -o naming an existing file before loading anything', () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'not a directory');
    for (const command of ['build', 'run']) {
      const message = expectUserError(cli([command, '-o', file]), 2);
      expect(message).to.match(/a-file exists and is a file, but a build writes a directory there/);
      expect(message).to.not.match(/loading|internal error|EEXIST/);
    }
    expect(readFileSync(file, 'utf8')).to.equal('not a directory');
  });

  it('refuses an unknown target before loading anything', () => {
    const message = expectUserError(cli(['build', '--target', 'esp32', '-o', join(tmp.dir, 'esp32')]), 2);
    expect(message).to.match(/unknown target "esp32"/);
    expect(message).to.not.match(/loading/);
  });

  it('plan exits 1 when the model does not fit, 0 when it does (through the real bin/llama2-embed.js)', () => {
    const tooLong = cli(['plan', '--target', 'rp2040', '--quant', 'q8_0', '--arithmetic', 'float', '--seq-len', '512']);
    expect(tooLong.status, tooLong.stderr).to.equal(1);
    expect(tooLong.stdout).to.match(/DOES NOT FIT/);
    expect(tooLong.stderr).to.match(/the model does not fit rp2040/);
    const fits = cli(['plan', '--target', 'rp2040']);
    expect(fits.status, fits.stderr).to.equal(0);
  });

  describe('a host build, then run', () => {
    const out = join(tmp.dir, 'host');

    it('build prints a short summary by default: what was built, where, the sizes', () => {
      const r = cli(['build', '-o', out, '-i', 'One day', '-t', '0.5', '-s', '7']);
      expect(r.status, r.stderr).to.equal(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).to.equal(`built ${join(out, 'llama2')} for host in ${/in ([\d.]+) s$/.exec(lines[0])?.[1]} s`);
      expect(lines.length, r.stderr).to.be.at.most(3);
      expect(r.stderr).to.match(/fp32 weights, seq_len 512; ram [\d.]+ MiB/);
      expect(r.stderr).to.not.match(/Memory plan for|\[1\/4\]|compiling/);
    });

    it("run with the build's options uses that program without rebuilding, whatever its generation flags", () => {
      const before = statSync(join(out, 'llama2')).mtimeMs;
      const r = cli(['run', '-o', out, '-i', 'Once upon a time', '-n', '16', '-t', '0']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^Once upon a time/);
      expect(r.stderr).to.not.match(/^built /m);
      expect(statSync(join(out, 'llama2')).mtimeMs).to.equal(before);
      // the program's own rate: two decimals, or n/a when it was too quick to time
      expect(r.stderr).to.match(/^achieved tok\/s: (\d+\.\d\d|n\/a \(\d+ tokens in under 5 ms, too short to measure\))$/m);
      expect(r.stderr).to.not.match(/achieved tok\/s: \d+\.\d{6}/);
    });

    it('run rebuilds when the program is not the one build-info.json describes (a half-linked file)', () => {
      const program = join(out, 'llama2');
      writeFileSync(program, readFileSync(program).subarray(0, 1000));
      chmodSync(program, 0o644);
      const r = cli(['run', '-o', out, '-n', '8', '-t', '0', '--verbose']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/^built /m);
      expect(r.stderr).to.match(/Memory plan for host/); // --verbose: the whole plan
      expect(r.stderr).to.not.match(/EACCES|internal error/);
      expect(buildFileProblems(out, readBuildInfo(out)!, true)).to.deep.equal([]);
    });

    it('build --quiet prints nothing', () => {
      const r = cli(['build', '-o', out, '--quant', 'q8_0', '--quiet']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.equal('');
      expect(readBuildInfo(out)?.plan.weights).to.equal('q8_0');
    });
  });

  describe('a build killed at any moment', () => {
    const out = join(tmp.dir, 'killed');
    const run = (program: string) => spawnSync(program, ['-n', '4', '-t', '0'], { encoding: 'utf8' });

    /** The output directory holds one complete build: its program is the one build-info.json describes, and runs. */
    function expectCompleteBuild(): string {
      const info = readBuildInfo(out);
      expect(info, `no build-info.json in ${out}: ${existsSync(out) ? readdirSync(out).join(' ') : 'no directory'}`).to.not.equal(
        undefined,
      );
      expect(buildFileProblems(out, info!, true)).to.deep.equal([]);
      const r = run(join(out, 'llama2'));
      expect(r.status, r.stderr).to.equal(0);
      return String(info!.request.quant);
    }

    before(() => {
      const r = cli(['build', '-o', out, '--quiet']);
      expect(r.status, r.stderr).to.equal(0);
    });

    for (const moment of [/\[2\/4\]/, /\[3\/4\]/, /compiling \S+\.c/, /linking/, /^built /m]) {
      it(`leaves the old build or the new one, complete, when killed at ${moment}`, async () => {
        const build = startCli(['build', '-o', out, '--quant', 'q8_0', '--verbose']);
        await build.waitFor(moment, 300_000, 'stderr');
        build.child.kill('SIGKILL');
        await build.exit(30_000);
        expect(['null', 'q8_0']).to.include(expectCompleteBuild());
      });
    }

    it('cleans up what the killed builds left beside the output on the next build, and run runs what build-info.json describes', () => {
      const b = cli(['build', '-o', out, '--quiet']);
      expect(b.status, b.stderr).to.equal(0);
      const r = cli(['run', '-o', out, '-n', '8', '-t', '0']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.not.match(/^built /m);
      expect(expectCompleteBuild()).to.equal('null');
      expect(readdirSync(tmp.dir).filter((name) => name.startsWith('.killed.'))).to.deep.equal([]);
    });
  });
});
