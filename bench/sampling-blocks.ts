/**
 * How often the sampler of a classifier in blocks (src/kernels/sampling-blocks-int.ts: the k largest
 * logits and a rescaled tally of the rest) draws another token than the plain integer sampler
 * (src/kernels/sampling-int.ts, the whole logits vector), on the real stories260K (Q8_0, integer
 * engine), `npm run bench -- sampling-blocks`. At every position of sampled stories (the plain
 * sampler's own tokens, so both see the same logits) both samplers draw from copies of the same
 * RNG state, for several candidate counts k: stories260K's 512 tokens are fewer than the 256
 * candidates of a build, so smaller k stand in for a larger vocabulary. Prints, per k, the draws
 * that differ, the draws whose candidates held every token of non-zero weight (then the tokens must
 * agree), and those whose nucleus (the plain sampler's) was larger than k.
 *
 * Then what the blocked sampler costs on the RP2040 (rp2040js, core cycles, no XIP model): a random
 * model of dim 64, one layer and stories15M's 32,000 tokens (so that the plan runs the classifier
 * in blocks), 6 tokens from BOS greedy, at temperature 1 / top-p 0.9 and at temperature 1 without
 * top-p; cycles per token from the firmware's statistics line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpoint } from '../src/checkpoint/write.js';
import { Rp2040Emulator } from '../src/emulator/rp2040.js';
import { loadForGeneration } from '../src/engine/load.js';
import { CLASSIFIER_BLOCK, SAMPLER_CANDIDATES } from '../src/engine/forward-steps.js';
import { IntTransformer } from '../src/engine/transformer-int.js';
import { mulShr } from '../src/kernels/builtins.js';
import { candidatesStart, foldCandidates, sampleCandidates, TALLY_SIZE } from '../src/kernels/sampling-blocks-int.js';
import { inverseTemperatureQ16, sampleNextFixed, softmaxWeights } from '../src/kernels/sampling-int.js';
import { quantizeModel } from '../src/quant/schemes.js';
import { build } from '../src/toolchain/build.js';
import { modelPath } from '../test/helpers/fixtures.js';
import { randomModel } from '../test/helpers/random-model.js';
import { firmwareStatistics } from './harness.js';

const PROMPTS = ['Once upon a time', 'One day', 'Lily and Tom', 'The little dog'];
const STEPS = 128;
const SEED = 42n;
const CANDIDATES = [8, 16, 32, 64, 128, SAMPLER_CANDIDATES];
const SETTINGS = [
  { temperature: 1, topp: 0.9 },
  { temperature: 1, topp: 1 },
  { temperature: 0.8, topp: 0.95 },
  { temperature: 1.5, topp: 0.9 },
];

interface Tally {
  differ: number;
  covered: number;
  coveredDiffer: number;
  nucleusOver: number;
}

/** The plain sampler's nucleus: how many of the heaviest weights it takes to pass topp of their sum. */
function nucleusSize(logits: Int32Array, n: number, temperature: number, topp: number, expTable: Int32Array): number {
  const weights = Int32Array.from(logits);
  const sum = softmaxWeights(weights, n, inverseTemperatureQ16(Math.fround(temperature)), expTable);
  if (topp <= 0 || topp >= 1) return weights.filter((w) => w > 0).length;
  const threshold = mulShr(sum, Math.floor(Math.fround(Math.fround(topp) * 1073741824)), 30);
  const sorted = [...weights].sort((a, b) => b - a);
  let cumulative = 0;
  for (let i = 0; i < sorted.length; i++) {
    cumulative += sorted[i];
    if (cumulative > threshold) return i + 1;
  }
  return sorted.length;
}

/** `npm run bench -- sampling-blocks` */
export async function benchSamplingBlocks(): Promise<void> {
  compareWithPlainSampler();
  await firmwareCost();
}

/** The firmware's cycles per token with the classifier in blocks: greedy, and sampled (see the file's comment). */
async function firmwareCost(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-sampling-blocks-'));
  try {
    const config = { dim: 64, hiddenDim: 128, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 32000, seqLen: 32 };
    const checkpoint = join(dir, 'random-32k-q4_0.bin');
    writeCheckpoint(checkpoint, quantizeModel(randomModel(config, 5, { sharedClassifier: false }), 'q4_0', { groupSize: 32 }).model, 'own');
    process.stdout.write(
      '\n## the RP2040 (rp2040js, 133 MHz, no XIP model): a random model of dim 64, 1 layer, 32,000 tokens, Q4_0, 6 tokens from BOS\n',
    );
    let greedyCycles = 0;
    for (const sampling of [
      { temperature: 0, topp: 0.9 },
      { temperature: 1, topp: 0.9 },
      { temperature: 1, topp: 1 },
    ]) {
      const out = join(dir, `t${sampling.temperature}-p${sampling.topp}`);
      await build(
        {
          target: 'rp2040',
          model: checkpoint,
          tokenizer: modelPath('tokenizer.bin'),
          flashBytes: 16 * 1024 * 1024,
          prompt: '',
          steps: 6,
          ...sampling,
          seed: 7n,
          exitAfterGeneration: true,
          stdio: 'uart',
          out,
        },
        () => {},
      );
      const run = await (await Rp2040Emulator.load(join(out, 'firmware.uf2'))).run({ maxSeconds: 600 });
      const cycles = firmwareStatistics(run.output, `temperature ${sampling.temperature}: the firmware`).cyclesPerToken;
      if (sampling.temperature === 0) greedyCycles = cycles;
      const extra =
        sampling.temperature === 0 ? '' : `, ${((cycles - greedyCycles) / config.vocabSize).toFixed(1)} cycles a logit more than greedy`;
      process.stdout.write(
        `temperature ${sampling.temperature}, top-p ${sampling.topp}: ${cycles.toLocaleString('en-US')} cycles a token${extra}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both samplers on the same logits, for each setting and k (see the file's comment). */
function compareWithPlainSampler(): void {
  const loaded = loadForGeneration({ model: 'stories260K.bin', weights: 'q8_0' });
  const n = loaded.model.config.vocabSize;
  process.stdout.write(
    `\n## the sampler of a classifier in blocks against the plain integer sampler (stories260K, Q8_0, integer engine; ` +
      `${PROMPTS.length} prompts × ${STEPS} positions, seed ${SEED})\n`,
  );
  for (const setting of SETTINGS) {
    const temperature = Math.fround(setting.temperature);
    const topp = Math.fround(setting.topp);
    const invTemp = inverseTemperatureQ16(temperature);
    const tallies = new Map(CANDIDATES.map((k) => [k, { differ: 0, covered: 0, coveredDiffer: 0, nucleusOver: 0 } as Tally]));
    let draws = 0;
    let largestNucleus = 0;
    for (const prompt of PROMPTS) {
      const engine = new IntTransformer(loaded.model);
      const ids = loaded.tokenizer.encode(prompt, true, false);
      const rng = new BigUint64Array([SEED]);
      let token = ids[0];
      for (let pos = 0; pos < STEPS; pos++) {
        const logits = engine.forward(token, pos);
        if (pos < ids.length - 1) {
          token = ids[pos + 1];
          continue;
        }
        const fixed = Int32Array.from(engine.fixedLogits.values);
        const nucleus = nucleusSize(fixed, n, temperature, topp, engine.fixedLogits.expTable);
        largestNucleus = Math.max(largestNucleus, nucleus);
        for (const k of CANDIDATES) {
          const t = tallies.get(k)!;
          const state = new Int32Array(TALLY_SIZE);
          const topLogits = new Int32Array(k);
          const topIds = new Int32Array(k);
          candidatesStart(state);
          for (let first = 0; first < n; first += CLASSIFIER_BLOCK) {
            const count = Math.min(CLASSIFIER_BLOCK, n - first);
            foldCandidates(state, topLogits, topIds, k, fixed.subarray(first), first, count, n, invTemp, engine.fixedLogits.expTable);
          }
          const blocked = sampleCandidates(
            state,
            topLogits,
            topIds,
            n,
            invTemp,
            topp,
            new Int32Array(k),
            rng.slice(),
            engine.fixedLogits.expTable,
          );
          const plain = sampleNextFixed(
            logits,
            Int32Array.from(fixed),
            n,
            temperature,
            topp,
            new Int32Array(n),
            rng.slice(),
            engine.fixedLogits.expTable,
          );
          const covered = candidatesHoldAll(fixed, k, n, invTemp, engine.fixedLogits.expTable);
          if (blocked !== plain) t.differ++;
          if (covered) {
            t.covered++;
            if (blocked !== plain) t.coveredDiffer++;
          }
          if (nucleus > k) t.nucleusOver++;
        }
        token = sampleNextFixed(logits, fixed, n, temperature, topp, new Int32Array(n), rng, engine.fixedLogits.expTable);
        draws++;
      }
    }
    process.stdout.write(
      `\ntemperature ${setting.temperature}, top-p ${setting.topp}: ${draws} draws, the plain sampler's nucleus up to ${largestNucleus} tokens\n`,
    );
    process.stdout.write('   k | tokens that differ | candidates held every weight (of them differ) | nucleus larger than k\n');
    for (const [k, t] of tallies) {
      const pct = (x: number) => `${x} (${((100 * x) / draws).toFixed(1)} %)`;
      process.stdout.write(
        `${String(k).padStart(4)} | ${pct(t.differ).padEnd(18)} | ${`${pct(t.covered)} (${t.coveredDiffer})`.padEnd(45)} | ${pct(t.nucleusOver)}\n`,
      );
    }
  }
}

/** True when every token outside the k largest logits has weight 0 (the candidates hold the whole distribution). */
function candidatesHoldAll(fixed: Int32Array, k: number, n: number, invTemp: number, expTable: Int32Array): boolean {
  const weights = Int32Array.from(fixed);
  softmaxWeights(weights, n, invTemp, expTable);
  const sorted = [...weights].sort((a, b) => b - a);
  return k >= n || sorted[k] === 0;
}
