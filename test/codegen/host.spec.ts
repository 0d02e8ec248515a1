/**
 * The host target end to end: build the C program from stories260K (and a random model with
 * stories15M's shapes), run it, and demand exactly the reference engine's tokens and logits,
 * and llama2.c's goldens.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { build, type BuildRequest } from '../../src/toolchain/build.js';
import { goldenIdFiles, goldenSettings } from '../helpers/goldens.js';
import { handOverEveryJob } from '../helpers/hand-over.js';
import { parseProgramOutput, runEngine } from '../helpers/engine-run.js';
import { modelPath, readGoldenFile, tempDir, stories260K } from '../helpers/fixtures.js';
import { randomModel, STORIES15M } from '../helpers/random-model.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};

async function buildHost(req: Omit<BuildRequest, 'target'>): Promise<string> {
  const result = await build({ target: 'host', ...req }, quiet);
  return result.info.executable;
}

function runProgram(executable: string, args: string[]): string {
  return execFileSync(executable, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

describe('host target: generated C against the engine and llama2.c', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const stories = stories260K; // looked up when read, after needs()

  for (const [weights, groupSize] of [
    ['f32', undefined],
    ['q8_0', 4],
  ] as const) {
    describe(`stories260K, ${weights}${groupSize ? ` group size ${groupSize}` : ''}`, () => {
      let program = '';
      let everyJob = '';
      before(async () => {
        const out = join(tmp.dir, `${weights}-${groupSize}`);
        program = await buildHost({ ...stories, quant: weights, groupSize, out });
        everyJob = handOverEveryJob(out);
      });
      for (const file of goldenIdFiles().filter(
        (f) => goldenSettings(f).weights === weights && goldenSettings(f).groupSize === groupSize,
      )) {
        it(`reproduces ${file}, on 1 and 2 threads, and on 2 and 3 with every job handed over`, () => {
          const s = goldenSettings(file);
          const args = [
            '-i',
            s.prompt,
            '-n',
            '256',
            '-t',
            String(s.temperature),
            '-p',
            String(s.topp),
            '-s',
            String(s.seed),
            '--format',
            'ids',
          ];
          const golden = readGoldenFile(file);
          expect(runProgram(program, args)).to.equal(golden);
          expect(runProgram(program, [...args, '--threads', '2'])).to.equal(golden);
          // 4 key/value heads of 2 query heads each: 2 + 2 on two threads, 2 + 2 + 0 on three
          expect(runProgram(everyJob, [...args, '--threads', '2']), 'every job on 2 threads').to.equal(golden);
          expect(runProgram(everyJob, [...args, '--threads', '3']), 'every job on 3 threads').to.equal(golden);
        });
      }
    });
  }

  it('prints the text llama2.c prints', async () => {
    const program = await buildHost({ ...stories, quant: 'f32', out: join(tmp.dir, 'f32-undefined') });
    expect(runProgram(program, ['-i', 'Once upon a time', '-t', '0'])).to.equal(
      readGoldenFile('stories260K_f32_greedy_once_upon_a_time.txt'),
    );
  });

  for (const weights of ['f32', 'q8_0', 'q4_0', 'mixed'] as const) {
    it(`stories260K ${weights} (default group size): logits of the first 16 positions bit-identical to the engine, tokens equal`, async () => {
      const program = await buildHost({ ...stories, quant: weights, out: join(tmp.dir, `default-${weights}`) });
      const loaded = loadForGeneration({ ...stories, weights });
      const prompt = loaded.tokenizer.encode('One day', true, false);
      const sampling = { temperature: 0.8, topp: 0.9, seed: 7 };
      const engine = runEngine(loaded.model, prompt, 200, sampling, 16);
      const c = parseProgramOutput(
        runProgram(program, ['-i', 'One day', '-n', '200', '-t', '0.8', '-p', '0.9', '-s', '7', '--format', 'ids', '--dump-logits', '16']),
      );
      expect(c.logitBits).to.have.length(16);
      for (let pos = 0; pos < 16; pos++)
        expect(
          Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
          `logits at position ${pos}`,
        ).to.equal(true);
      expect(c.idLines).to.deep.equal(engine.idLines);
    });
  }

  for (const scheme of ['q8_0', 'q4_0'] as const) {
    it(`a random model with stories15M's shapes, ${scheme}: tokens and logits equal the engine's on 1, 2 and 3 threads`, async () => {
      const model = quantizeModel(randomModel(STORIES15M, 15), scheme, { groupSize: 32 }).model;
      const checkpoint = join(tmp.dir, `random15M-${scheme}.bin`);
      writeCheckpoint(checkpoint, model, scheme === 'q8_0' ? 'v2' : 'own');
      const program = await buildHost({
        model: checkpoint,
        tokenizer: modelPath('tokenizer.bin'),
        out: join(tmp.dir, `random15M-${scheme}`),
      });
      const loaded = loadForGeneration({ model: checkpoint, tokenizer: modelPath('tokenizer.bin') });
      expect(loaded.weights).to.equal(scheme);
      const prompt = loaded.tokenizer.encode('Once upon a time, there was', true, false);
      const engine = runEngine(loaded.model, prompt, 24, { temperature: 1, topp: 0.9, seed: 3 }, 4);
      // 3 threads cut the grouped q, k, v rows and the 6 heads at other places than 2 do
      for (const threads of ['1', '2', '3']) {
        const args = [
          '-i',
          'Once upon a time, there was',
          '-n',
          '24',
          '-t',
          '1',
          '-p',
          '0.9',
          '-s',
          '3',
          '--format',
          'ids',
          '--dump-logits',
          '4',
          '--threads',
          threads,
        ];
        const c = parseProgramOutput(runProgram(program, args));
        for (let pos = 0; pos < 4; pos++)
          expect(Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)), `logits at ${pos}`).to.equal(true);
        expect(c.idLines, `${threads} thread(s)`).to.deep.equal(engine.idLines);
      }
    });
  }
});
