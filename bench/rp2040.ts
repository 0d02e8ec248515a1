/**
 * stories260K on the RP2040, in rp2040js: for each weights precision, core cycles per token (the
 * mean over 128 forward passes, from the firmware's own SysTick count: the line it prints) and
 * tokens/s at 133 MHz, without and with the XIP cache model (src/emulator/xip-cache.ts: a miss
 * stalls the core for the flash transfer boot2 set up), the XIP hit rate, flash and SRAM used
 * (the linker's sections), and where the cycles go (matmul / attention / the rest, from the
 * PC-sampling profiler on the XIP run). fp32 is the baseline of the ratios.
 *
 * The context is what the plan fits to the SRAM (the builds print it: 191 positions with the
 * float KV cache), so 1 + 128 positions fit; the prompt is "Once upon a time", greedy. The last
 * rows shorten the integer build's context, which leaves SRAM for copies of the weights. The
 * `--threads 2` row runs the default build on both emulated cores (core 1 takes half of every
 * matmul's rows, of SwiGLU's and of the attention's heads): its tok/s against the default row's is printed as a ratio, in core cycles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProfile, type Profile } from '../src/emulator/profiler.js';
import { Rp2040Emulator, type XipReport } from '../src/emulator/rp2040.js';
import type { Arithmetic } from '../src/plan/plan.js';
import type { QuantScheme } from '../src/quant/schemes.js';
import type { KvWindow } from '../src/engine/kv-window.js';
import { build } from '../src/toolchain/build.js';
import { readSectionSizes } from '../src/toolchain/sections.js';
import { firmwareStatistics } from './harness.js';

/** Forward passes timed: the firmware times from the end of the first one. */
const TIMED = 128;
const STEPS = TIMED + 1;
const PROFILE_INTERVAL = 9973;

interface Row {
  name: string;
  cycles: number;
  tokensPerSecond: number;
  timed: number;
  xipCycles: number;
  xipTokensPerSecond: number;
  xip: XipReport;
  profile: Profile;
  seqLen: number;
  arithmetic: string;
  flashBytes: number;
  sramBytes: number;
  weightsBytes: number;
  /** Weights the plan copies to SRAM at boot (PlanOptions.sramWeights). */
  sramWeightsBytes: number;
  emulatedMHz: number;
}

async function measure(
  dir: string,
  name: string,
  quant: QuantScheme,
  options: {
    groupSize?: number;
    arithmetic?: Arithmetic;
    boot2?: 'safe' | 'fast' | 'quad';
    seqLen?: number;
    /** A bounded KV cache (--kv-window): an approximation past SINKS + WINDOW positions (doc/kv-window.md). */
    kvWindow?: KvWindow;
    sramCode?: boolean;
    /** 2: core 1 takes half of every matmul's rows, of SwiGLU's and of the attention's heads (both emulated cores run). */
    threads?: number;
  } = {},
): Promise<Row> {
  const out = join(dir, name.replace(/[^a-z0-9]+/gi, '-'));
  const built = await build(
    {
      target: 'rp2040',
      model: 'stories260K.bin',
      quant,
      ...options,
      prompt: 'Once upon a time',
      steps: STEPS,
      temperature: 0,
      exitAfterGeneration: true,
      stdio: 'uart',
      out,
    },
    () => {},
  );
  const plain = await (await Rp2040Emulator.load(join(out, 'firmware.uf2'))).run({ maxSeconds: 1800 });
  const p = firmwareStatistics(plain.output);
  const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'), { xipModel: true, profile: { intervalCycles: PROFILE_INTERVAL } });
  const modelled = await emu.run({ maxSeconds: 3600 });
  const x = firmwareStatistics(modelled.output);
  const sections = readSectionSizes(join(out, 'firmware.elf'), 'arm-none-eabi-gcc');
  const sum = (low: number, high: number) =>
    [...sections.values()].filter((s) => s.address >= low && s.address < high).reduce((n, s) => n + s.bytes, 0);
  return {
    name,
    cycles: p.cyclesPerToken,
    tokensPerSecond: p.tokensPerSecond,
    timed: p.positions - 1,
    xipCycles: x.cyclesPerToken,
    xipTokensPerSecond: x.tokensPerSecond,
    xip: emu.xipReport!,
    profile: emu.profile!,
    seqLen: built.plan.seqLen,
    arithmetic: built.plan.arithmetic ?? 'float',
    flashBytes: sum(0x10000000, 0x11000000),
    sramBytes: sum(0x20000000, 0x20042000),
    weightsBytes: built.plan.weightsBytes,
    sramWeightsBytes: built.plan.buffers.filter((b) => b.copyOf).reduce((n, b) => n + b.bytes, 0),
    emulatedMHz: plain.emulatedMHz,
  };
}

/** `npm run bench -- rp2040`: every build below against fp32; `-- rp2040-integer`: the integer builds only (ten minutes instead of fifty), against the default build with its code left in flash. */
export async function benchRp2040(): Promise<void> {
  await benchRows(true);
}

export async function benchRp2040Integer(): Promise<void> {
  await benchRows(false);
}

async function benchRows(floatRows: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-rp2040-'));
  try {
    const rows: Row[] = [];
    if (floatRows) {
      rows.push(await measure(dir, 'fp32 (baseline)', 'f32'));
      rows.push(await measure(dir, 'Q8_0, group size 64, float kernels', 'q8_0', { arithmetic: 'float' }));
      rows.push(await measure(dir, 'Q8_0, group size 4, float kernels', 'q8_0', { groupSize: 4, arithmetic: 'float' }));
      rows.push(await measure(dir, 'mixed (Q8_0 embedding, Q4_0 layers), group size 32', 'mixed'));
    } else {
      rows.push(
        await measure(dir, 'quad boot2, code in flash (baseline: --no-sram-code)', 'q8_0', {
          arithmetic: 'integer',
          boot2: 'quad',
          sramCode: false,
        }),
      );
    }
    // the default build, and the same with the dual-output and quad boot2 (fewer stall cycles per XIP miss)
    rows.push(await measure(dir, 'Q8_0, integer kernels (the default)', 'q8_0', { arithmetic: 'integer' }));
    // both cores: core 1 takes half of every matmul's rows, of SwiGLU's and of the heads (src/emulator/second-core.ts runs it)
    rows.push(await measure(dir, 'the default, --threads 2 (both cores)', 'q8_0', { arithmetic: 'integer', threads: 2 }));
    rows.push(await measure(dir, 'Q8_0, integer kernels, fast boot2', 'q8_0', { arithmetic: 'integer', boot2: 'fast' }));
    rows.push(await measure(dir, 'Q8_0, integer kernels, quad boot2', 'q8_0', { arithmetic: 'integer', boot2: 'quad' }));
    // shorter contexts leave SRAM for copies of the weights (read without flash misses)
    rows.push(await measure(dir, 'the same, --seq-len 256', 'q8_0', { arithmetic: 'integer', boot2: 'quad', seqLen: 256 }));
    rows.push(await measure(dir, 'the same, --seq-len 144', 'q8_0', { arithmetic: 'integer', boot2: 'quad', seqLen: 144 }));
    // the whole context with a bounded KV cache: the same SRAM for copies, and attention over 64 rows at most (approximate past 64)
    rows.push(
      await measure(dir, 'the same, --kv-window 4+60', 'q8_0', {
        arithmetic: 'integer',
        boot2: 'quad',
        kvWindow: { sinks: 4, window: 60 },
      }),
    );
    const base = rows[0];
    const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    process.stdout.write(
      `\nstories260K on the RP2040 (rp2040js; cycles per token: the mean of ${TIMED} forward passes from the firmware's SysTick; greedy; ` +
        `XIP: 16 KiB 2-way cache, a miss = one 8-byte flash read at boot2's SSI set-up; shares from PC samples every ${PROFILE_INTERVAL} cycles on the XIP run)\n`,
    );
    const width = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) {
      const ratio = r === base ? 'baseline' : `${(base.cycles / r.cycles).toFixed(2)}× faster`;
      const xipRatio = r === base ? 'baseline' : `${(base.xipCycles / r.xipCycles).toFixed(2)}× faster`;
      const s = r.profile.shares;
      process.stdout.write(
        `  ${r.name.padEnd(width)}   no XIP model: ${r.cycles.toLocaleString('en-US').padStart(11)} cycles/token ${r.tokensPerSecond.toFixed(2).padStart(6)} tok/s at 133 MHz  ${ratio}\n` +
          `  ${''.padEnd(width)}   XIP model:    ${r.xipCycles.toLocaleString('en-US').padStart(11)} cycles/token ${r.xipTokensPerSecond.toFixed(2).padStart(6)} tok/s at 133 MHz  ${xipRatio}; ` +
          `hit rate ${pct(r.xip.hitRate)} (${r.xip.misses.toLocaleString('en-US')} misses: ${r.xip.fetch.misses.toLocaleString('en-US')} code, ${r.xip.data.misses.toLocaleString('en-US')} data; ${r.xip.lineFill?.cycles} cycles each, ${r.xip.lineFill?.describe})\n` +
          `  ${''.padEnd(width)}   cycles: matmul ${pct(s.matmul)}, attention ${pct(s.attention)}, the rest ${pct(s.rest)}${s.unattributed ? `, unattributed ${pct(s.unattributed)}` : ''}; soft float ${pct(r.profile.softFloatShare)}\n` +
          `  ${''.padEnd(width)}   ${r.arithmetic} kernels, seq_len ${r.seqLen}, ${r.timed} tokens timed; flash ${kib(r.flashBytes)} (weights ${kib(r.weightsBytes)}), SRAM ${kib(r.sramBytes)} (weights copied there ${kib(r.sramWeightsBytes)}); emulated at ${r.emulatedMHz.toFixed(0)} MHz\n`,
      );
    }
    const main = rows.find((r) => r.name.includes('(the default)'))!;
    const dual = rows.find((r) => r.name.includes('--threads 2'))!;
    process.stdout.write(
      `\nTwo cores against one (${dual.name} / ${main.name}), tok/s in core cycles: ` +
        `no XIP model ${dual.tokensPerSecond.toFixed(2)} / ${main.tokensPerSecond.toFixed(2)} = ${(dual.tokensPerSecond / main.tokensPerSecond).toFixed(2)}×, ` +
        `XIP model ${dual.xipTokensPerSecond.toFixed(2)} / ${main.xipTokensPerSecond.toFixed(2)} = ${(dual.xipTokensPerSecond / main.xipTokensPerSecond).toFixed(2)}×\n`,
    );
    process.stdout.write(`\nWhere the cycles go (${main.name}, XIP model):\n${formatProfile(main.profile, 14).replace(/^/gm, '  ')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
