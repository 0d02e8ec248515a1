/**
 * What a command reads and writes: inputs must be regular files (a FIFO would block forever,
 * /dev/zero never ends), an output is never one of the inputs, a device given as an output is
 * written to and never replaced, and a tokenizer is chosen and checked by the model's vocab_size.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

describe('cli: the files a command reads and writes', function () {
  needs('stories260K.bin', 'tok512.bin', 'tokenizer.bin');
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const env = () => ({ LLAMA2_EMBED_MODELS: tmp.dir });
  const here = (name: string) => join(tmp.dir, name);
  before(() => {
    copyFileSync(modelPath('stories260K.bin'), here('stories260K.bin'));
    copyFileSync(modelPath('tok512.bin'), here('tok512.bin'));
    copyFileSync(modelPath('tokenizer.bin'), here('tokenizer.bin'));
  });

  it('refuses a named pipe as a model or tokenizer, saying what it is (it blocked forever)', () => {
    execFileSync('mkfifo', [here('pipe.bin')]);
    const asModel = expectUserError(cli(['inspect', here('pipe.bin')], { env: env(), timeout: 20_000 }));
    expect(asModel).to.contain('is a named pipe (FIFO), expected a llama2.c .bin file');
    const asTokenizer = expectUserError(cli(['generate', '-z', here('pipe.bin'), '-n', '2'], { env: env(), timeout: 20_000 }));
    expect(asTokenizer).to.contain('is a named pipe (FIFO)');
  });

  it('refuses /dev/zero as a character device, not as an empty file', () => {
    const stderr = expectUserError(cli(['generate', '-z', '/dev/zero', '-n', '2'], { env: env(), timeout: 20_000 }));
    expect(stderr).to.contain('/dev/zero: is a character device');
  });

  it('says a symbolic link loop is one, not "no such file"', () => {
    symlinkSync(here('loop-b.bin'), here('loop-a.bin'));
    symlinkSync(here('loop-a.bin'), here('loop-b.bin'));
    expect(expectUserError(cli(['inspect', here('loop-a.bin')], { env: env() }))).to.contain('the symbolic links loop');
  });

  it('quantize refuses to write over its input, also through a link, and leaves it intact', () => {
    const before = readFileSync(here('stories260K.bin'));
    symlinkSync(here('stories260K.bin'), here('link.bin'));
    for (const out of [here('stories260K.bin'), here('link.bin')]) {
      const stderr = expectUserError(cli(['quantize', here('stories260K.bin'), '-o', out], { env: env() }), 2);
      expect(stderr).to.match(/is the input .*stories260K\.bin: writing it would destroy what is being read/);
    }
    expect(readFileSync(here('stories260K.bin')).equals(before)).to.equal(true);
  });

  it('quantize refuses a directory or a missing directory as -o before reading the model', () => {
    expect(expectUserError(cli(['quantize', here('stories260K.bin'), '-o', tmp.dir], { env: env() }), 2)).to.contain(
      'is a directory; give a file name',
    );
    expect(expectUserError(cli(['quantize', here('stories260K.bin'), '-o', here('no/such/dir/q.bin')], { env: env() }), 2)).to.match(
      /the directory .* does not exist/,
    );
    expect(expectUserError(cli(['quantize', here('stories260K.bin'), '-o', here(`${'x'.repeat(256)}.bin`)], { env: env() }), 2)).to.contain(
      'longer than 255 bytes',
    );
  });

  it('quantize writes a 250-byte file name (the temporary name stays legal)', () => {
    const name = `${'q'.repeat(246)}.bin`;
    const result = cli(['quantize', here('stories260K.bin'), '-o', here(name)], { env: env() });
    expect(result.status, result.stderr).to.equal(0);
    expect(statSync(here(name)).size).to.be.greaterThan(0);
  });

  it('quantize -o into a pipe writes into it and leaves the pipe a pipe (/dev/null was replaced by a file)', async () => {
    execFileSync('mkfifo', [here('out.fifo')]);
    // the reader counts into a file: cli() blocks this process, which could not drain a pipe to it
    const reader = spawn('sh', ['-c', 'wc -c < out.fifo > count'], { cwd: tmp.dir, stdio: 'ignore' });
    const closed = new Promise((done) => reader.on('close', done));
    const result = cli(['quantize', here('stories260K.bin'), '-o', here('out.fifo'), '--group-size', '32'], {
      env: env(),
      timeout: 60_000,
    });
    await closed;
    expect(result.status, result.stderr).to.equal(0);
    expect(statSync(here('out.fifo')).isFIFO()).to.equal(true);
    expect(Number(readFileSync(here('count'), 'utf8'))).to.be.greaterThan(200_000);
    expect(readdirSync(tmp.dir).filter((n) => n.includes('.tmp'))).to.deep.equal([]);
  });

  it('removes the temporary file a killed quantize left behind, on the next write to that directory', () => {
    const dead = 2 ** 22 + 12345; // above Linux's default pid_max: no such process
    const stale = here(`.q8.bin.llama2-embed-${dead}.tmp`);
    const someoneElses = here('.q8.bin.4242.tmp');
    writeFileSync(stale, 'half a model');
    writeFileSync(someoneElses, 'not ours');
    const result = cli(['quantize', here('stories260K.bin'), '-o', here('q8.bin'), '--group-size', '32'], { env: env() });
    expect(result.status, result.stderr).to.equal(0);
    expect(existsSync(stale)).to.equal(false);
    expect(existsSync(someoneElses)).to.equal(true);
  });

  it('a renamed, quantized model gets the tokenizer of its vocab_size (tok512.bin), not tokenizer.bin', () => {
    const made = cli(['quantize', here('stories260K.bin'), '-o', here('stories260K-mixed.bin'), '--quant', 'mixed'], { env: env() });
    expect(made.status, made.stderr).to.equal(0);
    // tokenizer.bin sits beside the model, as in the shared models directory: it must not be taken
    const result = cli(['generate', '-m', here('stories260K-mixed.bin'), '-n', '8', '-t', '0', '-i', 'Once upon a time'], { env: env() });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^Once upon a time/);
  });

  it('refuses a tokenizer whose piece count differs from vocab_size, naming both files, whatever the command', () => {
    for (const command of [
      ['generate', '-n', '2'],
      ['build', '--target', 'host', '-o', here('never-built')],
    ]) {
      const stderr = expectUserError(cli([...command, '-m', here('stories260K.bin'), '-z', here('tokenizer.bin')], { env: env() }));
      expect(stderr).to.contain("tokenizer.bin: the file holds 32000 pieces, but the model stories260K.bin's vocab_size is 512");
    }
    expect(existsSync(here('never-built'))).to.equal(false);
  });
});
