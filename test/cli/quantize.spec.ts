import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readCheckpoint, readCheckpointHeader } from '../../src/checkpoint/read.js';
import { formatQuantizeSummary, quantizeCheckpoint, v2GroupSizes, type QuantizeRequest } from '../../src/cli/quantize.js';
import { projectRoot } from '../../src/util/project-root.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { modelPath, readGoldenIds, tempDir } from '../helpers/fixtures.js';
import { greedyIds } from '../quant/greedy.js';
import { userError } from '../helpers/errors.js';
import { needs } from '../helpers/needs.js';

describe('cli/quantize', () => {
  needs('stories260K.bin', 'tok512.bin');
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const request = (over: Partial<QuantizeRequest>): QuantizeRequest => ({
    input: modelPath('stories260K.bin'),
    output: join(dir, 'out.bin'),
    quant: 'q8_0',
    format: 'auto',
    quiet: true,
    ...over,
  });

  it("writes Q8_0 with group size 4 as llama2.c v2, and the engine then reproduces runq.c's golden", () => {
    const summary = quantizeCheckpoint(request({ groupSize: 4 }));
    expect(summary).to.include({ format: 'v2', groupSize: 4, scheme: 'q8_0' });
    expect(summary.formatReason).to.contain('runq.c can read it');
    const read = readCheckpoint(summary.output);
    expect(read.format).to.equal('v2');
    expect(readCheckpointHeader(summary.output).groupSize).to.equal(4);

    const golden = readGoldenIds('stories260K_q8gs4_greedy_once_upon_a_time.ids');
    const fromFile = greedyIds(read, golden.prompt);
    // the same tokens as quantizing in memory (what generate --weights q8_0 --group-size 4 runs) ...
    const inMemory = quantizeModel(readCheckpoint(modelPath('stories260K.bin')), 'q8_0', { groupSize: 4 }).model;
    expect(fromFile).to.deep.equal(greedyIds(inMemory, golden.prompt));
    // ... which are llama2.c's runq.c's
    expect(fromFile).to.deep.equal([...golden.prompt, ...golden.generated]);
  });

  it('writes the own format when the group size does not divide every row length, and says why', () => {
    const summary = quantizeCheckpoint(request({}));
    expect(summary).to.include({ format: 'own', groupSize: 64 });
    expect(summary.groupSizeReason).to.match(/64 is the preferred group size for 8-bit weights.*shorter last group in rows of length 172/);
    expect(summary.formatReason).to.match(/group size 64 does not divide hidden_dim 172.*v2 works with group sizes 1, 2, 4/);
    expect(readCheckpoint(summary.output).format).to.equal('own');
  });

  for (const quant of ['q4_0', 'mixed'] as const) {
    it(`writes ${quant} in the own format, which reads back as it was quantized`, () => {
      const summary = quantizeCheckpoint(request({ quant }));
      expect(summary).to.include({ format: 'own', groupSize: 32, scheme: quant });
      expect(summary.formatReason).to.contain('holds Q8_0 weights only');
      const read = readCheckpoint(summary.output);
      const layer = read.layers[0].w2;
      expect(layer.dtype === 'q4_0' && layer.groupSize).to.equal(32);
      expect(read.tokenEmbedding.dtype).to.equal(quant === 'mixed' ? 'q8_0' : 'q4_0');
      const expected = quantizeModel(readCheckpoint(modelPath('stories260K.bin')), quant).model;
      expect(layer.dtype === 'q4_0' && Array.from(layer.q)).to.deep.equal(
        expected.layers[0].w2.dtype === 'q4_0' && Array.from(expected.layers[0].w2.q),
      );
    });
  }

  it('refuses --format v2 with a group size that straddles rows, saying what runq.c would do and what works', () => {
    const err = userError(() => quantizeCheckpoint(request({ groupSize: 64, format: 'v2' })));
    expect(err.exitCode).to.equal(2);
    expect(err.message).to.match(/group size 64 does not divide every row length \(dim 64 and hidden_dim 172\)/);
    expect(err.message).to.match(/skip the last 44 of the 172 values of every row/);
    expect(err.message).to.match(/Group sizes that work for v2: 1, 2, 4/);
    expect(existsSync(join(dir, 'out.bin'))).to.equal(false);
  });

  it('refuses --format v2 for 4-bit weights, and a group size that is not a positive integer', () => {
    expect(userError(() => quantizeCheckpoint(request({ quant: 'q4_0', groupSize: 4, format: 'v2' }))).message).to.match(
      /version 2 holds Q8_0 weights only.*runq\.c has no 4-bit matmul/,
    );
    expect(userError(() => quantizeCheckpoint(request({ groupSize: 0 }))).message).to.contain(
      '--group-size must be a whole number from 1 to',
    );
    expect(existsSync(join(dir, 'out.bin'))).to.equal(false);
  });

  it('lists the group sizes a v2 file can hold', () => {
    expect(v2GroupSizes({ dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256 })).to.deep.equal([
      1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 96,
    ]);
  });

  it('summarizes sizes before and after, group size, weights and format', () => {
    const summary = quantizeCheckpoint(request({ quant: 'mixed' }));
    const text = formatQuantizeSummary(summary);
    expect(text).to.match(/^input +.*stories260K\.bin: legacy v0 .*1,056,540 bytes \(1\.0 MiB\)$/m);
    expect(text).to.match(
      new RegExp(`^output +.*out\\.bin: ${summary.outputBytes.toLocaleString('en-US')} bytes .*% of the input\\)$`, 'm'),
    );
    expect(text).to.match(/^weights +mixed: Q8_0 token embedding and classifier, Q4_0 layer matrices$/m);
    expect(text).to.match(/^group size +32: /m);
    expect(text).to.match(/^format +llama2-embed version 1 .*: not llama2\.c's version 2/m);
    expect(summary.outputBytes).to.be.below(summary.inputBytes / 5);
  });

  it('notes when the input was quantized already', () => {
    const first = quantizeCheckpoint(request({ groupSize: 4 }));
    const second = quantizeCheckpoint(request({ input: first.output, output: join(dir, 'again.bin'), quant: 'q4_0' }));
    expect(formatQuantizeSummary(second)).to.match(/^note +the input was already quantized \(Q8_0 \(int8\) everywhere\)/m);
  });

  it('runs end to end from the command line', function () {
    this.timeout(60000);
    const bin = join(projectRoot(), 'bin', 'llama2-embed.js');
    const env: NodeJS.ProcessEnv = { ...process.env, LLAMA2_EMBED_MODELS: dirname(modelPath('stories260K.bin')) };
    delete env.LLAMA2_EMBED_DEBUG;
    const out = join(dir, 'cli.bin');
    const ok = spawnSync(process.execPath, [bin, 'quantize', 'stories260K.bin', '-o', out, '--quant', 'q8_0', '--group-size', '4'], {
      encoding: 'utf8',
      env,
    });
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/^format +version 2 /m);
    expect(readCheckpoint(out).format).to.equal('v2');
    const refused = spawnSync(process.execPath, [bin, 'quantize', 'stories260K.bin', '-o', join(dir, 'no.bin'), '--format', 'v2'], {
      encoding: 'utf8',
      env,
    });
    expect(refused.status).to.equal(2);
    expect(refused.stderr).to.match(/^llama2-embed: cannot write --format v2: group size 64 does not divide/);
    expect(existsSync(join(dir, 'no.bin'))).to.equal(false);
    expect(readFileSync(out).readUInt32LE(0)).to.equal(0x616b3432); // "ak42"
  });

  it('inspect reads the own format back: per-tensor dtype and group size', function () {
    this.timeout(60000);
    const bin = join(projectRoot(), 'bin', 'llama2-embed.js');
    const env: NodeJS.ProcessEnv = { ...process.env, LLAMA2_EMBED_MODELS: dirname(modelPath('stories260K.bin')) };
    const out = join(dir, 'mixed.bin');
    expect(
      spawnSync(process.execPath, [bin, 'quantize', 'stories260K.bin', '-o', out, '--quant', 'mixed'], { encoding: 'utf8', env }).status,
    ).to.equal(0);
    const shown = spawnSync(process.execPath, [bin, 'inspect', out], { encoding: 'utf8', env });
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.stdout).to.match(/token_embedding +\[512, 64\] +q8_0 gs 32/);
    expect(shown.stdout).to.match(/layers\.\*\.w2 +\[64, 172\] +q4_0 gs 32/);
  });
});
