import { expect } from 'chai';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';
import { readGoldenFile, tempDir } from '../helpers/fixtures.js';
import { requireNeeds } from '../helpers/needs.js';

describe('cli: generate', function () {
  this.timeout(120_000);

  it("prints llama2.c's golden ids with --format ids", function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli([
      'generate',
      '-m',
      'stories260K.bin',
      '-z',
      'tok512.bin',
      '-i',
      'One day',
      '-t',
      '1.0',
      '-p',
      '0.9',
      '-s',
      '42',
      '--format',
      'ids',
    ]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(readGoldenFile('stories260K_f32_t1.0_p0.9_s42_one_day.ids'));
  });

  it('--kv-window: the engine with the bounded cache, the golden ids while the text fits it; a window as long as the context refused', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const args = [
      'generate',
      '-m',
      'stories260K.bin',
      '-z',
      'tok512.bin',
      '-i',
      'One day',
      '-t',
      '1.0',
      '-p',
      '0.9',
      '-s',
      '42',
      '--format',
      'ids',
    ];
    const golden = readGoldenFile('stories260K_f32_t1.0_p0.9_s42_one_day.ids').split('\n');
    const r = cli([...args, '--kv-window', '4+28']);
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout.split('\n');
    // P lines for BOS and the 2 prompt tokens, then G lines: positions 0 … 31 are exact
    expect(lines.slice(0, 33)).to.deep.equal(golden.slice(0, 33));
    expect(lines).not.to.deep.equal(golden);
    expect(expectUserError(cli([...args, '--kv-window', '12+500']), 2)).to.contain('--kv-window 12+500 keeps 512 positions');
  });

  it("prints llama2.c's text, and tokens per second on stderr", function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli(['generate', '-i', 'Once upon a time', '-t', '0']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(readGoldenFile('stories260K_f32_greedy_once_upon_a_time.txt'));
    expect(r.stderr).to.match(/achieved tok\/s: \d+\.\d+/);
  });

  it('runs Q8_0 weights with a chosen group size (the runq.c golden)', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli(['generate', '--quant', 'q8_0', '--group-size', '4', '-t', '0', '--format', 'ids']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(readGoldenFile('stories260K_q8gs4_greedy_empty.ids'));
  });

  it('still takes --weights, the old name of --quant', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli(['generate', '--weights', 'q8_0', '--group-size', '4', '-t', '0', '--format', 'ids']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(readGoldenFile('stories260K_q8gs4_greedy_empty.ids'));
  });

  it('says which group size it chose and why with --verbose, and not otherwise', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli(['generate', '--quant', 'q8_0', '-t', '0', '-n', '8', '--verbose']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/q8_0 group size 64: .*172/);
    const quiet = cli(['generate', '--quant', 'q8_0', '-t', '0', '-n', '8']);
    expect(quiet.stderr).to.not.match(/group size/);
  });

  it('says so when the prompt leaves no room to generate (it was cut silently)', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli(['generate', '-t', '0', '-n', '3', '-i', 'Once upon a time there was', '--format', 'ids']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.not.match(/^G /m);
    expect(r.stderr).to.contain('warning: the prompt is 6 tokens; --steps 3 reads only the first 3 of them and leaves no room to generate');
    const fits = cli(['generate', '-t', '0', '-n', '7', '-i', 'Once upon a time there was', '--format', 'ids']);
    expect(fits.stderr).to.not.contain('warning');
  });

  it('prints one JSON object per token with --format jsonl', function () {
    requireNeeds(this, 'stories260K.bin', 'tok512.bin');
    const r = cli(['generate', '-i', 'One day', '-t', '0', '-n', '10', '--format', 'jsonl']);
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).to.have.length(12); // BOS at position 0, 10 steps and a summary (doc/events.md)
    expect(lines[0]).to.deep.equal({ v: 1, type: 'token', position: 0, token: 1, generated: false, text: '' });
    expect(lines.slice(0, -1).map((l) => l.position)).to.deep.equal([...Array(11).keys()]);
    expect(lines[1]).to.include({ v: 1, type: 'token', generated: false });
    const summary = lines.at(-1);
    expect(summary).to.include({ v: 1, type: 'summary', reason: 'steps', tokens: 10 });
    expect(summary.generated).to.equal(lines.filter((l) => l.type === 'token' && l.generated).length);
    expect(summary.text).to.equal(
      lines
        .slice(0, -1)
        .map((l) => l.text)
        .join(''),
    );
    expect(summary.text).to.match(/^One day/);
  });

  describe('bad input gets a clear message, never a stack trace', () => {
    it('a temperature below 0', () => {
      expect(expectUserError(cli(['generate', '-t', '-1']), 2)).to.match(/--temperature \(-t\) must be a number ≥ 0/);
    });
    it('top-p outside [0, 1]', () => {
      expect(expectUserError(cli(['generate', '-p', '1.5']), 2)).to.match(/--topp \(-p\) must be a number between 0 and 1, got 1\.5/);
    });
    it('a seed that is not a positive whole number', () => {
      expect(expectUserError(cli(['generate', '-s', 'abc']), 2)).to.match(/--seed \(-s\) must be a whole number/);
    });
    it('a group size without Q8_0 weights', function () {
      requireNeeds(this, 'stories260K.bin', 'tok512.bin'); // checked once the model is read
      expect(expectUserError(cli(['generate', '--group-size', '4']), 2)).to.match(
        /--group-size 4 applies to quantized weights; add --quant q8_0/,
      );
    });
    it('a model that is nowhere: where it looked and how to get it', () => {
      const cache = tempDir();
      try {
        const r = cli(['generate', '-m', 'stories15M.bin'], { env: { LLAMA2_EMBED_CACHE: join(cache.dir, 'cache') } });
        const message = expectUserError(r);
        expect(message).to.match(/stories15M\.bin: not found\. Looked in:/);
        expect(message).to.contain(join(cache.dir, 'cache'));
        expect(message).to.match(/llama2-embed pull stories15M/);
        expect(message).to.contain('https://huggingface.co/karpathy/tinyllamas/resolve/main/stories15M.bin');
      } finally {
        cache.cleanup();
      }
    });
    it('a tokenizer that does not go with the model', function () {
      requireNeeds(this, 'stories260K.bin', 'tok512.bin');
      expect(expectUserError(cli(['generate', '-m', 'stories260K.bin', '-z', 'stories260K.bin']))).to.match(
        /not a llama2\.c tokenizer\.bin/,
      );
    });
    it('an unknown command', () => {
      expect(expectUserError(cli(['generat']), 2)).to.match(/Unknown argument|Did you mean generate/);
    });
  });
});
