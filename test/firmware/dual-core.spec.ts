/**
 * `--threads 2` on the RP2040: core 1 takes half of every matmul's rows (templates/rp2040/parallel.c).
 * In the emulator's two cores (src/emulator/second-core.ts) the firmware launches core 1 through
 * the boot ROM's protocol; its tokens must be the one-core build's and the reference engine's, bit for bit, in fewer core
 * cycles per token. Loaded as `flash --emulate` loads it (through the ROM image when it is
 * there), and without the ROM (the harness's model of the ROM's wait loop).
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Rp2040Emulator, type LoadOptions } from '../../src/emulator/rp2040.js';
import { bootRomAvailable, readBootRom } from '../../src/emulator/boot-rom.js';
import { build } from '../../src/toolchain/build.js';
import { defaultPicoStory } from '../helpers/engine-run.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const stories = stories260K; // looked up when read, after needs()
const STEPS = 4;

/** How `flash --emulate` loads a firmware by default: through the boot ROM image when it is there (test/emulator/boot-rom.spec.ts checks that it does). */
function asFlashEmulateLoads(): LoadOptions {
  return bootRomAvailable() ? { bootRom: readBootRom() } : {};
}

function idLines(output: string): string[] {
  return output.split('\n').filter((l) => /^[PG] \d+$/.test(l));
}

function cyclesPerToken(output: string): number {
  const m = /achieved tok\/s: [\d.]+ \(\d+ tokens, (\d+) cycles per token/.exec(output);
  if (!m) throw new Error(`the firmware printed no statistics:\n${output.slice(-500)}`);
  return Number(m[1]);
}

describe('rp2040 target, --threads 2: both cores in the emulator', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const firmware = (threads: number) => join(tmp.dir, `threads${threads}`, 'firmware.uf2');

  before(async () => {
    for (const threads of [1, 2]) {
      await build(
        {
          target: 'rp2040',
          ...stories,
          prompt: 'Once upon a time',
          steps: STEPS,
          temperature: 0,
          threads,
          exitAfterGeneration: true,
          stdio: 'uart',
          out: join(tmp.dir, `threads${threads}`),
        },
        () => {},
      );
    }
  });

  async function run(threads: number, options: LoadOptions) {
    const emu = await Rp2040Emulator.load(firmware(threads), options);
    const result = await emu.run({ maxSeconds: 300 });
    expect(result.reason, result.output.slice(-500)).to.equal('break');
    expect(result.exitCode).to.equal(0);
    return { emu, output: result.output, cycles: cyclesPerToken(result.output) };
  }

  it("launches core 1 (as flash --emulate loads it) and gives the one-core build's tokens in fewer cycles", async () => {
    const one = await run(1, asFlashEmulateLoads());
    const two = await run(2, asFlashEmulateLoads());
    expect(one.emu.core1.core.PC >>> 28, 'a one-core build leaves core 1 in the ROM').to.equal(0);
    expect(two.emu.core1.inRomWait).to.equal(false);
    expect(two.emu.core1.core.PC >>> 28, 'core 1 runs the firmware, from flash').to.equal(1);
    expect(idLines(two.output)).to.deep.equal(idLines(one.output));
    expect(idLines(two.output)).to.deep.equal(defaultPicoStory('Once upon a time', STEPS).idLines); // the reference engine's
    expect(two.cycles / one.cycles).to.be.below(0.7);
  });

  it('without the ROM image too (the harness plays the ROM’s wait loop for core 1)', async () => {
    const one = await run(1, {});
    const two = await run(2, {});
    expect(two.emu.core1.inRomWait).to.equal(false);
    expect(idLines(two.output)).to.deep.equal(idLines(one.output));
    expect(two.cycles / one.cycles).to.be.below(0.7);
  });
});
