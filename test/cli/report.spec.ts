import { expect } from 'chai';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';
import { randomModel } from '../helpers/random-model.js';
import { writeCheckpoint } from '../../src/checkpoint/write.js';

describe('cli: report', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('--arithmetic integer runs the q8_0 candidate with the integer kernels, and says so', () => {
    const json = join(dir, 'report.json');
    const r = cli(['report', '--quant', 'q8_0', '--arithmetic', 'integer', '--sequences', '2', '--length', '16', '--json', json]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('run with the integer kernels');
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    const float = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.schemes[0].sampled.meanKl).to.be.a('number').and.greaterThan(0);
    // the same weights run with float kernels give other distributions
    const plain = cli(['report', '--quant', 'q8_0', '--sequences', '2', '--length', '16', '--json', json, '-q']);
    expect(plain.status, plain.stderr).to.equal(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).schemes[0].sampled.meanKl).not.to.equal(float.schemes[0].sampled.meanKl);
  });

  it('--arithmetic integer runs Q4_0 with the integer kernels where its shapes suit them (as a stories15M build for the RP2040), not otherwise', () => {
    // stories260K's shapes with a hidden size of 192 (a multiple of 16): the row-pair matmul takes every matrix
    const even = join(dir, 'even.bin');
    writeCheckpoint(
      even,
      randomModel({ dim: 64, hiddenDim: 192, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 64 }, 5),
      'v0',
    );
    const json = join(dir, 'report.json');
    const args = ['--quant', 'q4_0', '--group-size', '32', '--arithmetic', 'integer', '--sequences', '2', '--length', '16', '--json', json];
    const r = cli(['report', '-m', even, '-z', modelPath('tok512.bin'), ...args]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('q4_0 (group size 32, run with the integer kernels)');
    expect(JSON.parse(readFileSync(json, 'utf8')).schemes[0].sampled.meanKl)
      .to.be.a('number')
      .and.greaterThan(0);
    // stories260K's hidden size of 172 is not: its Q4_0 stays float
    const odd = cli(['report', ...args]);
    expect(odd.status, odd.stderr).to.equal(0);
    expect(odd.stdout).to.contain('q4_0 (group size 32)');
    expect(odd.stdout).not.to.contain('run with the integer kernels');
  });

  it('compares every scheme with fp32 on stories260K and writes the JSON and the HTML', () => {
    const json = join(dir, 'report.json');
    const html = join(dir, 'report.html');
    const story = join(dir, 'story.txt');
    writeFileSync(story, 'Once upon a time, there was a little dog. He liked to run in the park.\n');
    const r = cli(['report', '--sequences', '2', '--length', '16', '--eval', story, '--json', json, '--out', html]);
    expect(r.status, r.stderr).to.equal(0);
    for (const scheme of ['q8_0', 'q4_0', 'mixed']) expect(r.stdout).to.match(new RegExp(`^ {2}${scheme} `, 'm'));
    expect(r.stdout).to.match(/^ {2}host +no fixed limit +all fit \(ram /m);
    expect(r.stdout).to.contain('perplexity on');
    expect(r.stderr).to.contain('sampling 2 × 16 tokens');
    expect(r.stderr).to.contain(`wrote ${json}`).and.contain(`wrote ${html}`);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc).to.include({ format: 'llama2-embed-quant-report', version: 1 });
    expect(doc.settings).to.include({ sequences: 2, length: 16 });
    expect(doc.schemes[2].perplexity).to.be.a('number');
    expect(readFileSync(html, 'utf8')).to.match(/^<!DOCTYPE html>/);
    // written atomically: no temporary file left beside them
    expect(existsSync(join(dir, `.report.json.${process.pid}.tmp`))).to.equal(false);
  });

  it('one scheme, a given group size', () => {
    const r = cli(['report', '--quant', 'q8_0', '--group-size', '4', '--sequences', '1', '--length', '8', '--greedy-tokens', '4']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('q8_0 (group size 4)');
    expect(r.stdout).to.not.match(/^ {2}q4_0 /m);
  });

  it('--quiet prints nothing at all; --json without a file prints the JSON alone on stdout', () => {
    const quiet = cli(['report', '--quant', 'q8_0', '--sequences', '1', '--length', '8', '--greedy-tokens', '4', '-q']);
    expect(quiet.status, quiet.stderr).to.equal(0);
    expect(quiet.stdout).to.equal('');
    expect(quiet.stderr).to.equal('');
    const json = cli([
      'report',
      '--quant',
      'q8_0',
      '--group-size',
      '4',
      '--sequences',
      '1',
      '--length',
      '8',
      '--greedy-tokens',
      '4',
      '--json',
    ]);
    expect(json.status, json.stderr).to.equal(0);
    const doc = JSON.parse(json.stdout);
    expect(doc).to.include({ format: 'llama2-embed-quant-report', version: 1 });
    expect(doc.schemes[0]).to.include({ scheme: 'q8_0', groupSize: 4 });
    expect(doc.settings).to.include({ sequences: 1, length: 8, greedyTokens: 4 });
    // nothing but the JSON on stdout: no summary before or after it
    expect(json.stdout.startsWith('{\n  "format": "llama2-embed-quant-report"')).to.equal(true);
    expect(json.stdout.endsWith('}\n')).to.equal(true);
  });

  it('prints a short summary by default, every tensor with --verbose', () => {
    const args = ['report', '--sequences', '1', '--length', '8', '--greedy-tokens', '4', '-m', 'stories260K.bin'];
    const short = cli(args);
    const long = cli([...args, '--verbose']);
    expect(short.status, short.stderr).to.equal(0);
    expect(long.status, long.stderr).to.equal(0);
    expect(short.stdout.split('\n').length).to.be.below(40);
    expect(short.stdout).to.not.match(/^Weights, /m);
    expect(short.stdout.match(/rp2040/g)).to.have.length(1);
    expect(long.stdout.split('\n').length).to.be.above(120);
    for (const scheme of ['q8_0', 'q4_0', 'mixed']) expect(long.stdout).to.match(new RegExp(`^Weights, ${scheme} `, 'm'));
  });

  it('--greedy-tokens sizes the greedy pass (0: none)', () => {
    const json = join(dir, 'r.json');
    const none = cli(['report', '--quant', 'q8_0', '--sequences', '1', '--length', '4', '--greedy-tokens', '0', '--json', json]);
    expect(none.status, none.stderr).to.equal(0);
    expect(none.stderr).to.not.contain('greedy');
    let doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.settings).to.deep.include({ greedyTokens: 0, prompts: [] });
    expect(doc.schemes[0].greedy).to.deep.equal([]);
    const some = cli(['report', '--quant', 'q8_0', '--sequences', '1', '--length', '4', '--greedy-tokens', '6', '--json', json]);
    expect(some.status, some.stderr).to.equal(0);
    doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.settings.greedyTokens).to.equal(6);
    expect(doc.reference.greedy.map((g: { tokens: number[] }) => g.tokens.length)).to.deep.equal([6, 6, 6, 6]);
    expect(some.stdout).to.match(/^ {2}q8_0 .* \d+ \/ 24$/m);
  });

  it('the perplexity pass is bounded by --eval-tokens: a large --eval file (the HTML page `--eval F --out F` left in F) does not hang it', () => {
    // what `--out F` leaves in F for the next run: a page of some 300,000 characters (70,000 tokens: hours of forward passes)
    const page = join(dir, 'report.html');
    writeFileSync(
      page,
      '<p class="story">Once upon a time, there was a little dog named Max. He liked to run in the park.</p>\n'.repeat(3000),
    );
    const json = join(dir, 'r.json');
    const started = Date.now();
    const r = cli(
      [
        'report',
        '--quant',
        'q8_0',
        '--sequences',
        '1',
        '--length',
        '4',
        '--greedy-tokens',
        '0',
        '--eval',
        page,
        '--out',
        join(dir, 'next.html'),
        '--json',
        json,
      ],
      { timeout: 120_000 },
    );
    expect(r.status, `${r.stderr} (status ${r.status}, after ${Date.now() - started} ms)`).to.equal(0);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.settings.eval.tokens).to.be.above(50_000);
    expect(doc.settings.eval).to.include({ used: 256, chunks: 1 });
    expect(r.stdout).to.contain(`perplexity on the first 256 of ${doc.settings.eval.tokens.toLocaleString('en-US')} tokens of ${page}`);
    const small = cli([
      'report',
      '--quant',
      'q8_0',
      '--sequences',
      '1',
      '--length',
      '4',
      '--greedy-tokens',
      '0',
      '--eval',
      page,
      '--eval-tokens',
      '600',
      '--json',
      json,
    ]);
    expect(small.status, small.stderr).to.equal(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).settings.eval).to.include({ used: 600, chunks: 2 });
  });

  it('--kv-window measures the bounded KV cache against the full context on the same text and prompts', () => {
    const json = join(dir, 'report.json');
    const html = join(dir, 'report.html');
    const args = ['report', '--quant', 'q8_0', '--sequences', '2', '--length', '40', '--greedy-tokens', '40', '--json', json];
    const r = cli([...args, '--kv-window', '4+12', '--out', html]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('Bounded KV cache --kv-window 4+12 (an approximation past 16 positions)');
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.kvWindow).to.include({ sinks: 4, window: 12, rows: 16 });
    const kl: number[] = doc.kvWindow.sampled.klByPosition;
    expect(kl).to.have.length(40);
    // exact while the text fits the cache, then the forgotten positions show
    expect(kl.slice(0, 16).every((x) => x === 0)).to.equal(true);
    expect(kl.slice(16).every((x) => x > 0)).to.equal(true);
    expect(doc.kvWindow.sampled.meanKlPastWindow).to.be.closeTo(kl.slice(16).reduce((a, b) => a + b, 0) / 24, 1e-12);
    // after BOS alone, the first 16 greedy tokens come from exact positions
    const bosOnly = doc.kvWindow.greedy.find((g: { prompt: string }) => g.prompt === '');
    expect(bosOnly.identical).to.be.within(16, 39);
    expect(readFileSync(html, 'utf8')).to.contain('<h2>Bounded KV cache</h2>');
    // the schemes' figures are those of a report without the window: the same text, the same prompts
    const plain = cli([...args, '-q']);
    expect(plain.status, plain.stderr).to.equal(0);
    const without = JSON.parse(readFileSync(json, 'utf8'));
    expect(without.kvWindow).to.equal(null);
    expect(without.schemes).to.deep.equal(doc.schemes);
  });

  it('an unknown scheme is a usage error that lists the known ones', () => {
    const msg = expectUserError(cli(['report', '--quant', 'q8_0,q3_k']), 2);
    expect(msg).to.contain('unknown scheme "q3_k"').and.contain('q8_0, q4_0, mixed');
    expect(expectUserError(cli(['report', '--quant', 'f32']), 2)).to.contain('fp32 is the reference');
  });

  it('a missing --eval file is an error that names it', () => {
    const missing = join(dir, 'nope.txt');
    const msg = expectUserError(cli(['report', '--eval', missing]), 1);
    expect(msg).to.contain(`--eval ${missing}`).and.contain('no such file');
  });

  it('bad numbers, a length beyond the context, an output directory that does not exist', () => {
    expect(expectUserError(cli(['report', '--sequences', '0']), 2)).to.contain('--sequences must be a whole number');
    expect(expectUserError(cli(['report', '--length', '600']), 2)).to.contain('seq_len 512');
    expect(expectUserError(cli(['report', '--out', join(dir, 'missing', 'r.html')]), 2)).to.contain('does not exist');
  });

  it('refuses to write the report over one of its inputs, and leaves the input intact', () => {
    const model = join(dir, 'model-copy.bin');
    const story = join(dir, 'story-copy.txt');
    copyFileSync(modelPath('stories260K.bin'), model);
    writeFileSync(story, 'Once upon a time there was a cat.');
    const before = readFileSync(model);
    const cases: [string[], RegExp][] = [
      [['-m', model, '--out', model], /--out .*model-copy\.bin is the input/],
      [['-m', model, '--json', model], /--json .*model-copy\.bin is the input/],
      [['-m', model, '--eval', story, '--out', story], /--out .*story-copy\.txt is the input/],
    ];
    for (const [args, message] of cases) {
      const r = cli(['report', ...args], { timeout: 60_000 });
      expect(expectUserError(r, 2), args.join(' ')).to.match(message);
    }
    expect(readFileSync(model).equals(before)).to.equal(true);
    expect(readFileSync(story, 'utf8')).to.equal('Once upon a time there was a cat.');
  });

  it('checks every option before the long part starts', () => {
    const cases: [string[], number, string][] = [
      [['--greedy-tokens', '600'], 2, "--greedy-tokens 600 is more than the model's context holds (seq_len 512)"],
      [['--greedy-tokens', '-1'], 2, '--greedy-tokens must be a whole number from 0'],
      [['--eval-tokens', '0'], 2, '--eval-tokens must be a whole number from 1'],
      [['--group-size', '0'], 2, '--group-size must be a whole number from 1'],
      [['--seed', '0'], 2, '--seed must be a whole number from 1'],
      [['--json', join(dir, 'missing', 'r.json')], 2, 'does not exist'],
      [['--eval', dir], 1, 'is a directory'],
      [['-z', join(dir, 'nope.bin')], 1, 'no such file'],
      [['--kv-window', '4'], 2, '--kv-window must be SINKS+WINDOW'],
      [['--kv-window', '4+28'], 2, '--length 32 measures no further: use --length 64'],
      [['--kv-window', '4+28', '--length', '64'], 2, '--greedy-tokens 32 generates no further'],
      [['--kv-window', '4+508', '--length', '512', '--greedy-tokens', '0'], 2, '--kv-window 4+508 keeps 512 positions'],
    ];
    for (const [args, status, message] of cases) {
      const r = cli(['report', ...args]);
      expect(expectUserError(r, status), args.join(' ')).to.contain(message);
      // nothing was computed: no progress line before the error
      expect(r.stderr, args.join(' ')).to.match(/^llama2-embed: /);
    }
  });
});
