import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { formatInspectReport, inspectCheckpoint } from '../../src/cli/inspect.js';
import type { InspectReport } from '../../src/cli/inspect.js';
import { projectRoot } from '../../src/util/project-root.js';
import { formatTable } from '../../src/util/table.js';
import { modelPath, modelsEnv, tempDir } from '../helpers/fixtures.js';
import { quantizeModel } from '../checkpoint/synthetic.js';
import { requireNeeds } from '../helpers/needs.js';

/** Runs the real command line, as a user would. */
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const bin = join(projectRoot(), 'bin', 'llama2-embed.js');
  const env: NodeJS.ProcessEnv = { ...process.env, ...modelsEnv() };
  delete env.LLAMA2_EMBED_DEBUG;
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A user-facing failure: exit code 1, nothing on stdout, one paragraph on stderr, no stack trace. */
function expectOneParagraphFailure(result: ReturnType<typeof cli>): string {
  expect(result.status, result.stderr).to.equal(1);
  expect(result.stdout).to.equal('');
  const message = result.stderr.trimEnd();
  expect(message).to.match(/^llama2-embed: /);
  expect(message.split('\n'), message).to.have.length(1);
  expect(message).to.not.match(/^\s+at /m);
  return message;
}

describe('util/table formatTable', () => {
  it('pads columns, aligns right where asked, and draws a rule under the header', () => {
    const text = formatTable(
      ['name', 'bytes'],
      [
        ['wq', '81,920'],
        ['rms_final', 256],
      ],
      { align: ['left', 'right'] },
    );
    expect(text.split('\n')).to.deep.equal(['name        bytes', '---------  ------', 'wq         81,920', 'rms_final     256']);
  });

  it('leaves no trailing spaces, indents, and can omit the header', () => {
    const text = formatTable(
      [],
      [
        ['dim', 64],
        ['a long key', ''],
      ],
      { indent: '  ' },
    );
    expect(text.split('\n')).to.deep.equal(['  dim         64', '  a long key']);
  });

  it('counts code points, not UTF-16 units, for widths', () => {
    expect(formatTable(['x'], [['5 × [64]'], ['ab']], { rule: false }).split('\n')).to.deep.equal(['x', '5 × [64]', 'ab']);
  });
});

describe('cli/inspect', () => {
  describe('inspectCheckpoint', () => {
    it('describes stories260K.bin', function () {
      requireNeeds(this, 'stories260K.bin');
      const report = inspectCheckpoint(modelPath('stories260K.bin'));
      expect(report).to.include({ format: 'v0', sharedClassifier: true, parameters: 260_032, fileBytes: 1_056_540, headerBytes: 28 });
      expect(report.config).to.include({ headSize: 8, kvDim: 32, hiddenDim: 172 });
      expect(report.tensors).to.have.length(49);
      expect(report.tensors.find((t) => t.name === 'layers.3.w2')).to.deep.include({ shape: [64, 172], dtype: 'f32', bytes: 64 * 172 * 4 });
      expect(report.weightSizes.fp32.bytes).to.equal(260_032 * 4);
      // int8, gs 64, groups within rows (172 = 64 + 64 + 44): 278,752 bytes; int4, gs 32: 165,696 bytes.
      expect(report.weightSizes.int8).to.deep.equal({ precision: { scheme: 'q8_0', groupSize: 64 }, bytes: 278_752 });
      expect(report.weightSizes.int4).to.deep.equal({ precision: { scheme: 'q4_0', groupSize: 32 }, bytes: 165_696 });
    });

    it('prints one line per kind of tensor', function () {
      requireNeeds(this, 'stories260K.bin');
      const text = formatInspectReport(inspectCheckpoint(modelPath('stories260K.bin')));
      expect(text).to.match(/^layers\.\*\.w2 +\[64, 172\] +f32 +5 +220,160$/m);
      expect(text).to.match(/^total +49 +1,056,540$/m);
      expect(text).to.not.match(/ +$/m);
    });
  });

  describe('llama2-embed inspect (spawned)', () => {
    let dir: string;
    let cleanup: () => void;
    beforeEach(() => ({ dir, cleanup } = tempDir()));
    afterEach(() => cleanup());

    it('prints format, config, tensors and sizes of a file given by path', function () {
      requireNeeds(this, 'stories260K.bin');
      const result = cli('inspect', modelPath('stories260K.bin'));
      expect(result.status, result.stderr).to.equal(0);
      const out = result.stdout;
      expect(out).to.match(/^format +legacy v0 \(run\.c: fp32, no magic\)$/m);
      for (const [key, value] of [
        ['dim', 64],
        ['hidden_dim', 172],
        ['n_layers', 5],
        ['n_heads', 8],
        ['n_kv_heads', 4],
        ['head_size', 8],
        ['kv_dim', 32],
        ['vocab_size', 512],
        ['seq_len', 512],
      ]) {
        expect(out).to.match(new RegExp(`^${key} +${value}$`, 'm'));
      }
      expect(out).to.match(/^classifier +shared with the token embedding$/m);
      expect(out).to.match(/^parameters +260,032$/m);
      expect(out).to.match(/^token_embedding +\[512, 64\] +f32 +1 +131,072$/m);
      expect(out).to.match(/^fp32 +1,040,128 +1015\.8 KiB +100\.0%$/m);
      expect(out).to.match(/^int8 \(Q8_0, group size 64\) +278,752/m);
      expect(out).to.match(/^int4 \(Q4_0, group size 32\) +165,696/m);
    });

    it('finds a bare file name in the model search path', function () {
      requireNeeds(this, 'stories260K.bin');
      const result = cli('inspect', 'stories260K.bin');
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/^file +.*stories260K\.bin$/m);
    });

    it('prints JSON with --json', function () {
      requireNeeds(this, 'stories260K.bin');
      const result = cli('inspect', modelPath('stories260K.bin'), '--json');
      expect(result.status, result.stderr).to.equal(0);
      const report = JSON.parse(result.stdout) as InspectReport;
      expect(report.format).to.equal('v0');
      expect(report.config).to.deep.equal({
        dim: 64,
        hiddenDim: 172,
        nLayers: 5,
        nHeads: 8,
        nKvHeads: 4,
        vocabSize: 512,
        seqLen: 512,
        headSize: 8,
        kvDim: 32,
      });
      expect(report.parameters).to.equal(260_032);
      expect(report.tensors[0]).to.deep.equal({ name: 'token_embedding', shape: [512, 64], dtype: 'f32', offset: 28, bytes: 131_072 });
      expect(report.weightSizes.int8.bytes).to.equal(278_752);
    });

    it('shows the group size of a v2 file and uses it for the int8 size', function () {
      requireNeeds(this, 'stories260K.bin');
      const path = join(dir, 'stories260K_q8gs4.bin');
      writeCheckpoint(path, quantizeModel(readCheckpoint(modelPath('stories260K.bin')), 4), 'v2');
      const result = cli('inspect', path);
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/^format +version 2 \(Q8_0, runq\.c, magic "ak42"\)$/m);
      expect(result.stdout).to.match(/^group size +4$/m);
      expect(result.stdout).to.match(/^layers\.\*\.wq +\[64, 64\] +q8_0 gs 4 +5 +40,960$/m);
      expect(result.stdout).to.match(/^int8 \(Q8_0, group size 4\) /m);
    });

    it('accounts for every byte of our own format: the table adds up to the file size, padding named', function () {
      requireNeeds(this, 'stories260K.bin');
      const path = join(dir, 'stories260K_own.bin');
      const bytes = writeCheckpoint(path, quantizeModel(readCheckpoint(modelPath('stories260K.bin')), 32), 'own');
      const report = inspectCheckpoint(path);
      expect(report.headerBytes + report.paddingBytes + report.tensors.reduce((sum, t) => sum + t.bytes, 0)).to.equal(bytes);
      expect(report.paddingBytes).to.be.greaterThan(0);
      const text = formatInspectReport(report);
      expect(text).to.match(new RegExp(`^total +${report.tensors.length} +${bytes.toLocaleString('en-US')}$`, 'm'));
      expect(text).to.match(/^alignment padding +[\d,]+$/m);
      expect(text).to.match(/64-byte boundary/);
    });

    it('fails with exit code 1 and one paragraph for a truncated file', function () {
      requireNeeds(this, 'stories260K.bin');
      const path = join(dir, 'cut.bin');
      writeFileSync(path, readFileSync(modelPath('stories260K.bin')).subarray(0, 500_000));
      const message = expectOneParagraphFailure(cli('inspect', path));
      expect(message).to.match(/cut\.bin: the file size does not match its header.*implies 1,056,540 bytes, but the file has 500,000/);
    });

    it('fails with exit code 1 and one paragraph for a tokenizer passed as the model', function () {
      requireNeeds(this, 'tok512.bin');
      const message = expectOneParagraphFailure(cli('inspect', modelPath('tok512.bin')));
      expect(message).to.match(/tok512\.bin: not a model checkpoint\. It looks like a llama2\.c tokenizer file/);
    });

    it('fails with exit code 1 and no stack trace for a missing file', () => {
      const result = cli('inspect', join(dir, 'missing.bin'));
      expect(result.status).to.equal(1);
      expect(result.stderr).to.match(/^llama2-embed: .*missing\.bin: no such file/);
      expect(result.stderr).to.not.match(/^\s+at /m);
    });
  });
});
