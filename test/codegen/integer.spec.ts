/**
 * `--arithmetic integer` on the host: the generated C computes exactly what the integer-mode engine
 * computes (logits bit for bit, tokens equal), which is what the RP2040 firmware runs too.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { build } from '../../src/toolchain/build.js';
import { parseProgramOutput, runEngine } from '../helpers/engine-run.js';
import { rejectedUserError } from '../helpers/errors.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { handOverEveryJob } from '../helpers/hand-over.js';
import { needs } from '../helpers/needs.js';
import { randomModel } from '../helpers/random-model.js';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { quantizeModel } from '../../src/quant/schemes.js';

const quiet = () => {};

function runProgram(executable: string, args: string[]): string {
  return execFileSync(executable, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

describe('host target, integer arithmetic: generated C against the integer engine', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const stories = stories260K; // looked up when read, after needs()
  let loaded: ReturnType<typeof loadForGeneration>;
  before(() => {
    loaded = loadForGeneration({ ...stories, weights: 'q8_0' });
  });

  for (const groupSize of [undefined, 4]) {
    describe(`stories260K, Q8_0 group size ${groupSize ?? 'default'}`, () => {
      let program = '';
      let everyJob = '';
      before(async () => {
        const out = join(tmp.dir, `int-${groupSize}`);
        const result = await build({ target: 'host', ...stories, quant: 'q8_0', groupSize, arithmetic: 'integer', out }, quiet);
        program = result.info.executable;
        everyJob = handOverEveryJob(out);
        expect(result.plan.arithmetic).to.equal('integer');
      });

      it('logits of the first 16 positions bit-identical, 200 sampled tokens equal, on 1 and 2 threads (every matmul handed over)', () => {
        const model = groupSize ? loadForGeneration({ ...stories, weights: 'q8_0', groupSize }).model : loaded.model;
        const prompt = loaded.tokenizer.encode('One day', true, false);
        const engine = runEngine(model, prompt, 200, { temperature: 0.8, topp: 0.9, seed: 7 }, 16, { arithmetic: 'integer' });
        for (const threads of ['1', '2']) {
          // two threads: each matmul's rows split between them, the same integers in every row
          const c = parseProgramOutput(
            runProgram(threads === '1' ? program : everyJob, [
              '-i',
              'One day',
              '-n',
              '200',
              '-t',
              '0.8',
              '-p',
              '0.9',
              '-s',
              '7',
              '--format',
              'ids',
              '--dump-logits',
              '16',
              '--threads',
              threads,
            ]),
          );
          expect(c.logitBits).to.have.length(16);
          for (let pos = 0; pos < 16; pos++)
            expect(
              Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
              `logits at position ${pos}, ${threads} threads`,
            ).to.equal(true);
          expect(c.idLines).to.deep.equal(engine.idLines);
        }
      });

      it("greedy tokens to the end of the context equal the engine's, for the golden prompts", () => {
        const model = groupSize ? loadForGeneration({ ...stories, weights: 'q8_0', groupSize }).model : loaded.model;
        for (const text of ['', 'Once upon a time']) {
          const prompt = loaded.tokenizer.encode(text, true, false);
          const engine = runEngine(model, prompt, 0, { temperature: 0, topp: 0.9, seed: 1 }, 0, { arithmetic: 'integer' });
          const c = parseProgramOutput(runProgram(program, ['-i', text, '-n', '0', '-t', '0', '--format', 'ids']));
          expect(c.idLines, JSON.stringify(text)).to.deep.equal(engine.idLines);
        }
      });
      if (groupSize === undefined) {
        it('says so in the generated files', () => {
          const header = readFileSync(join(tmp.dir, 'int-undefined', 'model.h'), 'utf8');
          expect(header).to.match(/#define ARITHMETIC\s+"integer"/);
          const forward = readFileSync(join(tmp.dir, 'int-undefined', 'forward.c'), 'utf8');
          expect(forward).to.include('int8_t key_cache[');
          expect(forward).not.to.match(/\bfloat\b[^*]*\bkey_cache/);
        });
      }
    });
  }

  it('Q4_0 and mixed weights in row-pair words (a random model whose shapes suit them): logits bit-identical, 2 threads splitting the row pairs', async () => {
    const config = { dim: 64, hiddenDim: 160, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 512, seqLen: 64 };
    for (const quant of ['q4_0', 'mixed'] as const) {
      const model = quantizeModel(randomModel(config, 5, { sharedClassifier: false }), quant, { groupSize: 32 }).model;
      const checkpoint = join(tmp.dir, `random-${quant}.bin`);
      writeCheckpoint(checkpoint, model, 'own');
      const out = join(tmp.dir, `int-${quant}`);
      const result = await build({ target: 'host', model: checkpoint, tokenizer: stories.tokenizer, arithmetic: 'integer', out }, quiet);
      expect(result.plan).to.include({ weights: quant, arithmetic: 'integer', classifier: 'whole' });
      const prompt = loaded.tokenizer.encode('One day', true, false);
      const engine = runEngine(model, prompt, 24, { temperature: 0.8, topp: 0.9, seed: 7 }, 8, { arithmetic: 'integer' });
      const everyJob = handOverEveryJob(out);
      for (const threads of ['1', '2']) {
        const args = [
          '-i',
          'One day',
          '-n',
          '24',
          '-t',
          '0.8',
          '-p',
          '0.9',
          '-s',
          '7',
          '--format',
          'ids',
          '--dump-logits',
          '8',
          '--threads',
          threads,
        ];
        const c = parseProgramOutput(runProgram(threads === '1' ? result.info.executable : everyJob, args));
        for (let pos = 0; pos < 8; pos++)
          expect(
            Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
            `${quant}, position ${pos}`,
          ).to.equal(true);
        expect(c.idLines, `${quant}, ${threads} threads`).to.deep.equal(engine.idLines);
      }
    }
  });

  it("refuses Q4_0 shapes the integer matmul cannot read (stories260K's rows of 172) and f32 weights, with advice", async () => {
    const q4 = await rejectedUserError(
      build({ target: 'host', ...stories, quant: 'q4_0', arithmetic: 'integer', out: join(tmp.dir, 'int-q4') }, quiet),
    );
    expect(q4.message).to.match(/w2 is 64 × 172 in groups of 32 .*or --quant q8_0/);
    const f32 = await rejectedUserError(
      build({ target: 'host', ...stories, quant: 'f32', arithmetic: 'integer', out: join(tmp.dir, 'int-f32') }, quiet),
    );
    expect(f32.message).to.match(/--arithmetic integer needs quantized weights \(--quant q8_0, q4_0 or mixed\); the weights are f32/);
  });
});
