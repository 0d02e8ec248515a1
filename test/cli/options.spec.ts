/**
 * Every command checks its options before it does anything: an unknown option, an option given
 * twice or a number option given an empty value is refused with exit 2, before any model is
 * looked up, any file written or any device touched.
 */
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';

/** Each command with the arguments it requires; `missing.bin` is a model that is found nowhere. */
const COMMANDS: Record<string, string[]> = {
  generate: ['-m', 'missing.bin'],
  inspect: ['missing.bin'],
  pull: ['stories260K'],
  quantize: ['missing.bin', '-o', 'out.bin'],
  build: ['-m', 'missing.bin', '-o', 'out'],
  plan: ['-m', 'missing.bin'],
  run: ['-m', 'missing.bin', '-o', 'out'],
  flash: ['--emulate', '--build', 'missing-dir'],
  monitor: ['--port', '/dev/missing-port'],
  report: ['-m', 'missing.bin', '--out', 'report.html'],
  export: ['--format', 'c', '-m', 'missing.bin', '-o', 'out'],
};

describe('cli: options are checked before any work', function () {
  let dir: string;
  const env = { LLAMA2_EMBED_MODELS: '/nonexistent', LLAMA2_EMBED_CACHE: '/nonexistent-cache' };
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'l2e-options-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const [command, args] of Object.entries(COMMANDS)) {
    it(`${command}: a misspelled option is refused before the command runs`, function () {
      // Had the command run, the missing model (or firmware, or port) would be the complaint.
      const stderr = expectUserError(cli([command, ...args, '--tagret', 'rp2040'], { cwd: dir, env, timeout: 30_000 }), 2);
      expect(stderr).to.match(/Unknown argument: tagret/);
      expect(readdirSync(dir)).to.deep.equal([]);
    });
  }

  it('--kv-window is SINKS+WINDOW, refused otherwise before the model is looked up (build, plan, run, export, generate, report)', function () {
    this.timeout(180_000);
    const cases: [string, string][] = [
      ['build', '64'],
      ['plan', '4+0'],
      ['run', 'four'],
      ['export', '4-60'],
      ['generate', '4+'],
      ['report', '+60'],
    ];
    for (const [command, bad] of cases) {
      const r = cli([command, ...COMMANDS[command], '--kv-window', bad], { cwd: dir, env, timeout: 30_000 });
      // had the option been taken, the missing model would be the complaint
      expect(expectUserError(r, 2), `${command} --kv-window ${bad}`)
        .to.contain('--kv-window must be SINKS+WINDOW')
        .and.contain(`got "${bad}"`);
    }
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('an option that takes one value refuses a second, naming it', function () {
    const stderr = expectUserError(cli(['generate', '-z', 'a.bin', '-z', 'b.bin'], { cwd: dir, env }), 2);
    expect(stderr).to.contain('--tokenizer / -z was given 2 times ("a.bin", "b.bin"); it takes one value');
    expect(expectUserError(cli(['generate', '--model', 'a.bin', '-m', 'b.bin'], { cwd: dir, env }), 2)).to.contain(
      '--model / -m was given 2 times',
    );
    expect(expectUserError(cli(['generate', '--quant', 'q8_0', '--weights', 'q4_0'], { cwd: dir, env }), 2)).to.contain(
      '--quant / --weights was given 2 times',
    );
  });

  it('a second value is refused also where yargs keeps only the last (an option with a default)', function () {
    const stderr = expectUserError(cli(['generate', '-m', 'missing.bin', '-t', '0', '-t', '1'], { cwd: dir, env }), 2);
    expect(stderr).to.contain('--temperature / -t was given 2 times (-t, -t)');
    expect(expectUserError(cli(['build', '-m', 'missing.bin', '-o', 'a', '--out', 'b'], { cwd: dir, env }), 2)).to.match(
      /was given 2 times/,
    );
  });

  it('a number option given a word is refused with the word, not as NaN', function () {
    expect(expectUserError(cli(['plan', '-m', 'missing.bin', '--threads', 'abc'], { cwd: dir, env }), 2)).to.contain(
      '--threads takes a number, got "abc"',
    );
    expect(expectUserError(cli(['generate', '-m', 'missing.bin', '-n=ten'], { cwd: dir, env }), 2)).to.contain(
      '--steps / -n takes a number, got "ten"',
    );
  });

  it('plan checks --threads as build does, before loading the model', function () {
    expect(expectUserError(cli(['plan', '-m', 'missing.bin', '--threads', '0'], { cwd: dir, env }), 2)).to.contain(
      '--threads must be a whole number from 1 to 64, got 0',
    );
    expect(expectUserError(cli(['plan', '-m', 'missing.bin', '--target', 'rp2040', '--threads', '3'], { cwd: dir, env }), 2)).to.contain(
      'rp2040 has 2 cores; use --threads 2 or less',
    );
  });

  it('an option declared repeatable may repeat', function () {
    const result = cli(['build', '--target', 'rpi4', '--on-device', '--ssh-option', 'A=1', '--ssh-option', 'B=2', '--bogus'], {
      cwd: dir,
      env,
    });
    expect(expectUserError(result, 2)).to.match(/Unknown argument: bogus/);
  });

  it('a number option given an empty value is refused, not read as 0', function () {
    expect(expectUserError(cli(['generate', '-n', ''], { cwd: dir, env }), 2)).to.contain(
      '--steps / -n takes a number, got an empty value',
    );
    expect(expectUserError(cli(['generate', '--steps='], { cwd: dir, env }), 2)).to.contain('--steps / -n takes a number');
  });

  it('a group size that a file cannot store is refused, not wrapped (4294967296 was written as 0)', function () {
    for (const command of [
      ['quantize', 'missing.bin', '-o', 'q.bin'],
      ['generate', '--quant', 'q8_0'],
      ['generate', '--weights', 'q8_0'],
    ]) {
      const stderr = expectUserError(cli([...command, '--group-size', '4294967296'], { cwd: dir, env }), 2);
      expect(stderr).to.contain('--group-size must be a whole number from 1 to 1,048,576, got 4294967296');
    }
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('a bad choice is refused before the command runs', function () {
    const stderr = expectUserError(cli(['build', '-m', 'missing.bin', '--quant', 'q3'], { cwd: dir, env }), 2);
    expect(stderr).to.match(/Invalid values:[\s\S]*quant/);
  });
});
