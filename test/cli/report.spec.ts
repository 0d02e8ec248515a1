import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

describe('cli: report', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('--arithmetic integer runs the q8_0 candidate with the integer kernels, and says so', () => {
    const json = join(dir, 'report.json');
    const r = cli(['report', '--quant', 'q8_0', '--arithmetic', 'integer', '--sequences', '2', '--length', '16', '--json', json, '-q']);
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

  it('compares every scheme with fp32 on stories260K and writes the JSON and the HTML', () => {
    const json = join(dir, 'report.json');
    const html = join(dir, 'report.html');
    const story = join(dir, 'story.txt');
    writeFileSync(story, 'Once upon a time, there was a little dog. He liked to run in the park.\n');
    const r = cli(['report', '--sequences', '2', '--length', '16', '--eval', story, '--json', json, '--out', html]);
    expect(r.status, r.stderr).to.equal(0);
    for (const scheme of ['q8_0', 'q4_0', 'mixed']) expect(r.stdout).to.match(new RegExp(`^ {2}${scheme} `, 'm'));
    expect(r.stdout).to.match(/^ {2}host +mixed +fits host with no fixed limit/m);
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

  it('one scheme, a given group size, quietly', () => {
    const r = cli(['report', '--quant', 'q8_0', '--group-size', '4', '--sequences', '1', '--length', '8', '-q']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.contain('q8_0 (group size 4)');
    expect(r.stdout).to.not.match(/^Weights, q4_0/m);
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
    expect(expectUserError(cli(['report', '--out', join(dir, 'missing', 'r.html')]), 1)).to.contain('does not exist');
  });
});
