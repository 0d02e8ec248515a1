/**
 * The tokenizer in flash on the RP2040, in rp2040js (`npm run bench -- rp2040-tokenizer`): the
 * default build (stories260K, Q8_0, integer kernels) of the prompt "Zoë saw a dog" (byte fallback
 * for "ë"), greedy, 8 positions, with --embed-tokenizer (the tables in flash, the prompt encoded at
 * reset) and without it (the prompt's ids from the host, `P`/`G` lines). For each, without and
 * with the XIP timing model: the cycles from reset to the firmware's first byte out (boot, the
 * SRAM copies of weights and code, and with the tokenizer the prompt's encoding), and the cycles
 * per token the firmware measures, and the plan's tokenizer rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rp2040Emulator } from '../src/emulator/rp2040.js';
import { build } from '../src/toolchain/build.js';
import { firmwareStatistics } from './harness.js';

const PROMPT = 'Zoë saw a dog';

async function measure(dir: string, embedTokenizer: boolean): Promise<void> {
  const out = join(dir, embedTokenizer ? 'embedded' : 'ids');
  const result = await build(
    {
      target: 'rp2040',
      model: 'stories260K.bin',
      prompt: PROMPT,
      steps: 8,
      temperature: 0,
      embedTokenizer,
      exitAfterGeneration: true,
      stdio: 'uart',
      out,
    },
    () => {},
  );
  const tokenizerRows = result.plan.buffers.filter((b) => b.name.startsWith('tokenizer'));
  for (const xipModel of [false, true]) {
    const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'), { xipModel });
    let firstByte = 0;
    emu.onUartByte(() => (firstByte ||= emu.cycles));
    const run = await emu.run({ maxSeconds: 600 });
    if (run.reason !== 'break') throw new Error(`the firmware did not finish (${run.reason}):\n${run.output.slice(-300)}`);
    const stats = firmwareStatistics(run.output);
    console.log(
      `  ${embedTokenizer ? '--embed-tokenizer' : 'ids only        '}  XIP model ${xipModel ? 'on ' : 'off'}: ` +
        `first byte after ${firstByte.toLocaleString('en-US')} cycles, ${stats.cyclesPerToken.toLocaleString('en-US')} cycles per token (${stats.tokensPerSecond} tok/s)`,
    );
  }
  for (const b of tokenizerRows) console.log(`    plan: ${b.name} ${b.memory} ${b.bytes.toLocaleString('en-US')} bytes (${b.description})`);
}

/** Runs the benchmark and prints its table. */
export async function benchRp2040Tokenizer(): Promise<void> {
  console.log(`rp2040-tokenizer: stories260K, "${PROMPT}", greedy, 8 positions`);
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-tokenizer-'));
  try {
    await measure(dir, true);
    await measure(dir, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
