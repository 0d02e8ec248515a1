/**
 * An RP2040 firmware with a bounded KV cache (--kv-window 4+12, stories260K, integer kernels on
 * both cores): its greedy tokens are the integer engine's with the same window, past the point
 * where the ring wraps and the text parts from the full cache's. Kept short: 32 positions.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { build } from '../../src/toolchain/build.js';
import { runEngine } from '../helpers/engine-run.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

describe('rp2040 target, bounded KV cache: firmware against the integer engine', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(900_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("greedy, 32 positions with --kv-window 4+12 on two cores: the engine's tokens with the same window, not the full cache's", async () => {
    const kvWindow = { sinks: 4, window: 12 };
    const out = join(tmp.dir, 'kv');
    const steps = 32;
    const prompt = 'Once upon a time';
    const result = await build(
      {
        target: 'rp2040',
        ...stories260K,
        exitAfterGeneration: true,
        stdio: 'uart',
        out,
        kvWindow,
        prompt,
        steps,
        temperature: 0,
        threads: 2,
      },
      () => {},
    );
    expect(result.plan).to.include({ seqLen: 512, cacheRows: 16 });
    expect(readFileSync(join(out, 'forward.c'), 'utf8')).to.contain('multihead_attention(loff, soff, kv_last);');
    const emu = await Rp2040Emulator.load(join(result.outDir, 'firmware.uf2'));
    const run = await emu.run({ maxSeconds: 600 });
    expect(run.reason, run.output.slice(-500)).to.equal('break');
    const ids = run.output.split('\n').filter((l) => /^[PG] \d+$/.test(l));
    const loaded = loadForGeneration({ ...stories260K, weights: 'q8_0' });
    const tokens = loaded.tokenizer.encode(prompt, true, false);
    const sampling = { temperature: 0, topp: 0.9, seed: 1 };
    const bounded = runEngine(loaded.model, tokens, steps, sampling, 0, { arithmetic: 'integer', kvWindow });
    const full = runEngine(loaded.model, tokens, steps, sampling, 0, { arithmetic: 'integer' });
    expect(bounded.idLines).not.to.deep.equal(full.idLines); // the window has changed the text by then
    expect(ids).to.deep.equal(bounded.idLines);
  });
});
