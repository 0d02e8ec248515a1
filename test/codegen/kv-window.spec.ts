/**
 * A build with a bounded KV cache (--kv-window) on the host: the generated C computes what the
 * engines compute with the same window (logits bit for bit, also past the point where the ring
 * wraps, tokens equal), in float and integer arithmetic, on one and two threads. The RP2040 run is
 * in test/firmware/kv-window.spec.ts.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import type { KvWindow } from '../../src/engine/kv-window.js';
import { build } from '../../src/toolchain/build.js';
import { parseProgramOutput, runEngine } from '../helpers/engine-run.js';
import { rejectedUserError } from '../helpers/errors.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { handOverEveryJob } from '../helpers/hand-over.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};

function runProgram(executable: string, args: string[]): string {
  return execFileSync(executable, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

describe('host target, bounded KV cache: generated C against the engines', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const kvWindow: KvWindow = { sinks: 4, window: 28 };
  // 48 positions: 32 exact ones, then 16 past the ring's wrap
  const steps = 48;

  for (const arithmetic of ['float', 'integer'] as const) {
    it(`${arithmetic}: logits of all ${steps} positions bit-identical to the engine's with --kv-window 4+28, tokens equal, on 1 and 2 threads`, async () => {
      const quant = arithmetic === 'integer' ? 'q8_0' : 'f32';
      const out = join(tmp.dir, arithmetic);
      const result = await build({ target: 'host', ...stories260K, quant, arithmetic, kvWindow, threads: 2, out }, quiet);
      expect(result.plan.cacheRows).to.equal(32);
      expect(readFileSync(join(out, 'model.h'), 'utf8')).to.match(/#define KV_ROWS\s+32 /);
      const loaded = loadForGeneration({ ...stories260K, weights: quant });
      const prompt = loaded.tokenizer.encode('One day', true, false);
      const sampling = { temperature: 0.8, topp: 0.9, seed: 7 };
      const engine = runEngine(loaded.model, prompt, steps, sampling, steps, { arithmetic, kvWindow });
      // the window changes the text: the test compares the bounded computations, not two full ones
      const full = runEngine(loaded.model, prompt, steps, sampling, steps, { arithmetic });
      expect(full.logitBits[32]).not.to.deep.equal(engine.logitBits[32]);
      expect(full.logitBits[31]).to.deep.equal(engine.logitBits[31]);
      const args = [
        '-i',
        'One day',
        '-n',
        String(steps),
        '-t',
        '0.8',
        '-p',
        '0.9',
        '-s',
        '7',
        '--format',
        'ids',
        '--dump-logits',
        String(steps),
      ];
      const everyJob = handOverEveryJob(out);
      for (const [program, threads] of [
        [result.info.executable, '1'],
        [everyJob, '2'],
      ]) {
        const c = parseProgramOutput(runProgram(program, [...args, '--threads', threads]));
        expect(c.logitBits).to.have.length(steps);
        for (let pos = 0; pos < steps; pos++)
          expect(
            Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
            `logits at position ${pos}, ${threads} thread(s)`,
          ).to.equal(true);
        expect(c.idLines).to.deep.equal(engine.idLines);
      }
    });
  }

  it('refuses a window as long as the context before building, and the plan counts the smaller cache', async () => {
    const e = await rejectedUserError(
      build({ target: 'host', ...stories260K, seqLen: 32, kvWindow, out: join(tmp.dir, 'refused') }, quiet),
    );
    expect(e.message).to.contain('--kv-window 4+28 keeps 32 positions, and --seq-len is 32 positions');
  });
});
