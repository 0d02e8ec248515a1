/**
 * stories260K on a Raspberry Pi Pico, in rp2040js: `build --target rp2040` makes a firmware
 * (boot2, runtime, the model in flash, its state in SRAM) whose tokens must be llama2.c's goldens
 * and the reference engine's, bit for bit the same arithmetic on a Cortex-M0+ with soft float.
 * Emulation runs at roughly 40 MHz here, so each run generates only a few tokens.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { boot2Crc } from '../../src/firmware-image/boot2.js';
import { decodeUf2 } from '../../src/firmware-image/uf2.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { build, type BuildRequest } from '../../src/toolchain/build.js';
import { runEngine } from '../helpers/engine-run.js';
import { readGoldenIds, tempDir, stories260K } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const stories = stories260K; // looked up when read, after needs()

async function runFirmware(req: Omit<BuildRequest, 'target'>, lines: string[]): Promise<{ output: string; cycles: number; log: string[] }> {
  const log: string[] = [];
  // the firmware returns from main() after its baked generation (a BKPT, where the run stops)
  // stdio uart: the test reads UART0
  const result = await build({ target: 'rp2040', ...stories, exitAfterGeneration: true, stdio: 'uart', ...req }, (line) => log.push(line));
  const uf2 = join(result.outDir, 'firmware.uf2');
  lines.push(...log);
  const emu = await Rp2040Emulator.load(uf2);
  const run = await emu.run({ maxSeconds: 240 });
  expect(run.reason, run.output).to.equal('break');
  expect(run.exitCode ?? 0).to.equal(0);
  return { output: run.output, cycles: run.cycles, log };
}

function idLines(output: string): string[] {
  return output.split('\n').filter((l) => /^[PG] \d+$/.test(l));
}

describe('rp2040 target: the model in firmware, run in rp2040js', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("fp32, greedy: the first tokens of llama2.c's golden, as ids for the host to decode", async () => {
    const golden = readGoldenIds('stories260K_f32_greedy_once_upon_a_time.ids');
    const steps = golden.prompt.length + 3;
    const log: string[] = [];
    const { output } = await runFirmware(
      { quant: 'f32', prompt: 'Once upon a time', steps, temperature: 0, out: join(tmp.dir, 'f32') },
      log,
    );
    const expected = [
      ...golden.prompt.map((id) => `P ${id}`),
      ...golden.generated.slice(0, steps - golden.prompt.length + 1).map((id) => `G ${id}`),
    ];
    expect(idLines(output)).to.deep.equal(expected);
    expect(output).to.match(/achieved tok\/s: \d+\.\d\d \(\d+ tokens, \d+ cycles per token at 133 MHz\)/);
  });

  it("Q8_0 group size 4, greedy: runq.c's golden, with the tokenizer compiled in printing text", async () => {
    const golden = readGoldenIds('stories260K_q8gs4_greedy_once_upon_a_time.ids');
    const steps = 16;
    const log: string[] = [];
    const { output } = await runFirmware(
      {
        quant: 'q8_0',
        groupSize: 4,
        arithmetic: 'float',
        prompt: 'Once upon a time',
        steps,
        temperature: 0,
        embedTokenizer: true,
        out: join(tmp.dir, 'q8gs4'),
      },
      log,
    );
    const loaded = loadForGeneration({ ...stories, weights: 'q8_0', groupSize: 4 });
    const ids = [...golden.prompt, ...golden.generated.slice(0, steps - golden.prompt.length + 1)];
    expect(output.startsWith(loaded.tokenizer.decodeText(ids))).to.equal(true);
  });

  it("Q8_0 default group size, float arithmetic, sampled: the reference engine's tokens; the build fits the context to SRAM and checks the image", async () => {
    const steps = 12;
    const log: string[] = [];
    const { output } = await runFirmware(
      { quant: 'q8_0', arithmetic: 'float', prompt: 'One day', steps, temperature: 1, topp: 0.9, seed: 42n, out: join(tmp.dir, 'q8') },
      log,
    );
    const loaded = loadForGeneration({ ...stories, weights: 'q8_0' });
    const engine = runEngine(loaded.model, loaded.tokenizer.encode('One day', true, false), steps, { temperature: 1, topp: 0.9, seed: 42 });
    expect(idLines(output)).to.deep.equal(engine.idLines);
    expect(log.join('\n')).to.match(/seq_len 512 does not fit rp2040; using --seq-len \d+/);
    // the context fitted to the SRAM leaves no room for the code: it stays in flash, and the build says so
    expect(log.join('\n')).to.match(/the code \([\d.]+ KiB\) stays in flash: with it the SRAM would not hold the state/);
    expect(log.join('\n')).to.match(/plan against the linker/);
    const uf2 = readFileSync(join(tmp.dir, 'q8', 'firmware.uf2'));
    const image = decodeUf2(uf2).image;
    expect(boot2Crc(image).ok).to.equal(true);
    expect(existsSync(join(tmp.dir, 'q8', 'firmware.elf'))).to.equal(true);
  });

  it('refuses, before compiling, a context that does not fit the SRAM, saying what would', async () => {
    let message = '';
    try {
      await build({ target: 'rp2040', ...stories, quant: 'q8_0', arithmetic: 'float', seqLen: 512, out: join(tmp.dir, 'big') }, () => {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.match(/does not fit rp2040/);
    expect(message).to.match(/--seq-len \d+/);
    expect(existsSync(join(tmp.dir, 'big', 'forward.c'))).to.equal(false);
  });
});
