/**
 * Sampling with the classifier in row blocks on the RP2040 (issue 19): a small seeded random model
 * with stories15M's 32,000-token vocabulary (one layer of dim 64, so that a token takes a fraction
 * of the 15M shape's emulated time), whose logits do not fit the SRAM, so that the plan runs the
 * classifier in blocks. The firmware's tokens, greedy and at temperature 1 with top-p 0.9, must be
 * the integer engine's with the same steps (src/kernels/sampling-blocks-int.ts), bit for bit; so
 * must those it sends for a GENERATE with a temperature over the serial protocol (which a build
 * with the classifier in blocks refused before it could sample), and the options' bad values are
 * refused before any C is written.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { EmulatedBoard } from '../../src/emulator/emulate.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { SAMPLER_CANDIDATES } from '../../src/engine/forward-steps.js';
import { buffer } from '../../src/plan/plan.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { Monitor } from '../../src/serial/monitor.js';
import { build } from '../../src/toolchain/build.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { runEngine } from '../helpers/engine-run.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { needs, requireBootRom, requireNeeds } from '../helpers/needs.js';
import { randomModel } from '../helpers/random-model.js';

const SMALL_32K = { dim: 64, hiddenDim: 128, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 32000, seqLen: 32 };
const STEPS = 4;

describe('rp2040: sampling from a classifier in row blocks (a small random model with a 32,000-token vocabulary)', function () {
  needs('tokenizer.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let checkpoint: string;
  before(() => {
    checkpoint = join(tmp.dir, 'random-32k-q4_0.bin');
    writeCheckpoint(
      checkpoint,
      quantizeModel(randomModel(SMALL_32K, 5, { sharedClassifier: false }), 'q4_0', { groupSize: 32 }).model,
      'own',
    );
  });

  for (const sampling of [
    { temperature: 1, topp: 0.9, seed: 7 },
    { temperature: 0, topp: 0.9, seed: 1 },
  ]) {
    it(`temperature ${sampling.temperature}, top-p ${sampling.topp}: the first ${STEPS} tokens are the integer engine's`, async () => {
      const out = join(tmp.dir, `t${sampling.temperature}`);
      const { plan } = await build(
        {
          target: 'rp2040',
          model: checkpoint,
          tokenizer: modelPath('tokenizer.bin'),
          flashBytes: 16 * 1024 * 1024,
          prompt: '',
          steps: STEPS,
          ...sampling,
          seed: BigInt(sampling.seed),
          exitAfterGeneration: true,
          stdio: 'uart',
          out,
        },
        () => {},
      );
      expect(plan).to.include({ arithmetic: 'integer', classifier: 'blocks' });
      expect(buffer(plan, 'sampler_top_ids').count).to.equal(SAMPLER_CANDIDATES);
      const run = await (await Rp2040Emulator.load(join(out, 'firmware.uf2'))).run({ maxSeconds: 300 });
      expect(run.reason, run.output.slice(-500)).to.equal('break');
      const ids = run.output.split('\n').filter((l) => /^[PG] \d+$/.test(l));

      const loaded = loadForGeneration({ model: checkpoint, tokenizer: modelPath('tokenizer.bin') });
      const engine = runEngine(loaded.model, [1], STEPS, sampling, 0, { arithmetic: 'integer', seqLen: plan.seqLen, classifier: 'blocks' });
      expect(ids).to.deep.equal(engine.idLines);
      expect(ids.filter((l) => l.startsWith('G '))).to.have.length(STEPS);
    });
  }

  it("answers a GENERATE with a temperature over the serial protocol (monitor on the emulated UART): the engine's tokens", async function () {
    requireNeeds(this, 'socat');
    requireBootRom(this);
    const serving = join(tmp.dir, 'serving');
    await build(
      {
        target: 'rp2040',
        model: checkpoint,
        tokenizer: modelPath('tokenizer.bin'),
        flashBytes: 16 * 1024 * 1024,
        steps: 0,
        stdio: 'uart',
        out: serving,
      },
      () => {},
    );
    // as flash --emulate runs it: through the boot ROM, on the 16 MB chip this image (over 2 MB) needs
    const board = await EmulatedBoard.start({ firmware: serving });
    const sampling = { temperature: 0.8, topp: 0.95, seed: 11 };
    try {
      const monitor = await Monitor.connect({
        port: board.devicePath,
        baudRate: 115200,
        json: true,
        timestamp: false,
        steps: 3,
        temperature: sampling.temperature,
        topp: sampling.topp,
        seed: BigInt(sampling.seed),
        buildDir: serving,
        sink: { out: () => {}, note: () => {} },
      });
      try {
        const stats = await monitor.generate('');
        const loaded = loadForGeneration({ model: checkpoint, tokenizer: modelPath('tokenizer.bin') });
        const engine = runEngine(loaded.model, [1], 3, sampling, 0, { arithmetic: 'integer', classifier: 'blocks' });
        expect(stats.tokenIds).to.deep.equal(engine.idLines.map((l) => Number(l.slice(2))));
        expect(stats.tokenIds).to.have.length(4); // BOS and 3 sampled
      } finally {
        await monitor.close();
      }
    } finally {
      await board.stop();
    }
  });

  it('refuses a temperature or top-p out of range for such a build before any C is written, saying what it takes', () => {
    for (const [option, value, message] of [
      ['--temperature', '-0.5', /--temperature \(-t\) must be a number ≥ 0 \(0 = greedy\), got -0\.5/],
      ['--topp', '1.5', /--topp \(-p\) must be a number between 0 and 1, got 1\.5/],
    ] as const) {
      const out = join(tmp.dir, `bad${option}`);
      const args = ['build', '--target', 'rp2040', '--flash-size', '16M', '-m', checkpoint, '-z', modelPath('tokenizer.bin'), '-o', out];
      expect(expectUserError(cli([...args, option, value]), 2)).to.match(message);
      expect(existsSync(out)).to.equal(false);
    }
  });
});
