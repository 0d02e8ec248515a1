/**
 * `build --target rp2040 --clock 200`: PLL_SYS at 1200 MHz ÷ 6 ÷ 1 and the core at 1.15 V. rp2040js
 * models the PLL (its clk_sys follows the registers) but not the regulator: the firmware's VREG
 * write is ignored there, with a warning this test looks for. Its tokens are the engine's, and its
 * tok/s is the same core cycles at 200 MHz.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { build } from '../../src/toolchain/build.js';
import { runEngine } from '../helpers/engine-run.js';
import { stories260K, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

describe('rp2040 firmware at --clock 200', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("sets PLL_SYS to 200 MHz and the core to 1.15 V, samples the engine's tokens, and reports tok/s at 200 MHz", async () => {
    const out = join(tmp.dir, 'clock200');
    const sampling = { temperature: 1, topp: 0.9, seed: 42 };
    await build(
      {
        target: 'rp2040',
        ...stories260K,
        prompt: 'One day',
        steps: 24,
        ...sampling,
        seed: 42n,
        clockMHz: 200,
        exitAfterGeneration: true,
        stdio: 'uart',
        out,
      },
      () => {},
    );
    const makefile = readFileSync(join(out, 'Makefile'), 'utf8');
    expect(makefile).to.include(
      '-DRP2040_CLK_SYS_HZ=200000000u -DRP2040_PLL_SYS_REFDIV=1u -DRP2040_PLL_SYS_FBDIV=100u -DRP2040_PLL_SYS_POSTDIV1=6u -DRP2040_PLL_SYS_POSTDIV2=1u -DRP2040_VREG_VSEL=12u',
    );
    const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'));
    const run = await emu.run({ maxSeconds: 300 });
    expect(run.reason, run.output.slice(-500)).to.equal('break');
    expect(emu.clockHz).to.equal(200e6);
    // VSEL 12 (1.15 V) with EN kept: rp2040js reads the unmodelled register as all ones
    expect(emu.warnings.first.join('\n')).to.match(/VREG_AND_CHIP_RESET.*write to 0x0: 0xc3/);
    const loaded = loadForGeneration({ ...stories260K, weights: 'q8_0' });
    const engine = runEngine(loaded.model, loaded.tokenizer.encode('One day', true, false), 24, sampling, 0, { arithmetic: 'integer' });
    expect(run.output.split('\n').filter((l) => /^[PG] \d+$/.test(l))).to.deep.equal(engine.idLines);
    const stats = /achieved tok\/s: ([\d.]+) \((\d+) tokens, (\d+) cycles per token at (\d+) MHz\)/.exec(run.output);
    expect(stats, run.output.slice(-300)).to.not.equal(null);
    expect(Number(stats![4])).to.equal(200);
    expect(Number(stats![1])).to.be.closeTo(200e6 / Number(stats![3]), 0.01);
  });
});
