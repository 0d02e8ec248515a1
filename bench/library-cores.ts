/**
 * The exported library per core (`node dist/bench/run.js library-cores`): stories260K in Q8_0,
 * float arithmetic on the cores with an FPU and integer where there is none, built with each
 * core's flags. For each: the library's code, flash and SRAM (the compiler's `size` of its
 * objects), and where QEMU emulates the core the instructions per token, counted by QEMU with a
 * TCG plugin (templates/library/qemu/insn-count-plugin.c) as the difference between a run of 8
 * and one of 24 positions (greedy, "Once upon a time": init and the prompt cancel out), so per
 * token of positions 8 to 23. The tok/s is an ESTIMATE: the board's clock divided by the
 * instructions, as if each took one cycle (no flash wait states, no multi-cycle loads or
 * multiplies, no dual issue). Ratios are against the same core's portable C (the kernels
 * without the DSP path: -DLLAMA2_EMBED_NO_INTRINSICS).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boardByName, boardCore } from '../src/library/boards.js';
import { coreByName, type LibraryCore } from '../src/library/cores.js';
import { buildForEmulator, buildInstructionCounter, countInstructions } from '../src/library/emulator.js';
import { exportLibrary } from '../src/library/export.js';
import { projectRoot } from '../src/util/project-root.js';
import { UserError } from '../src/util/errors.js';

const FIRST = 8;
const LAST = 24;
const PROMPT = 'Once upon a time';

/** Published figures to compare with (stories260K, their own measurements on the boards). */
const ANCHORS = [
  { name: 'esp32-llm, ESP32-S3 at 240 MHz (published)', tokensPerSecond: 19.1 },
  { name: 'pico_llama, RP2350 at 150 MHz, fp32 (published)', tokensPerSecond: 19 },
];

interface Variant {
  core: string;
  /** The board whose clock the estimate uses and whose memory the library is checked against. */
  board: string;
  arithmetic: 'float' | 'integer';
  portable: boolean;
}

const VARIANTS: Variant[] = [
  { core: 'cortex-m0plus', board: 'pico', arithmetic: 'integer', portable: true },
  { core: 'cortex-m4f', board: 'nucleo-f446re', arithmetic: 'float', portable: true },
  { core: 'cortex-m4f', board: 'nucleo-f446re', arithmetic: 'float', portable: false },
  { core: 'cortex-m4f', board: 'nucleo-f446re', arithmetic: 'integer', portable: true },
  { core: 'cortex-m4f', board: 'nucleo-f446re', arithmetic: 'integer', portable: false },
  { core: 'cortex-m7', board: 'nucleo-h743zi', arithmetic: 'float', portable: true },
  { core: 'cortex-m7', board: 'nucleo-h743zi', arithmetic: 'float', portable: false },
  { core: 'cortex-m7', board: 'nucleo-h743zi', arithmetic: 'integer', portable: true },
  { core: 'cortex-m7', board: 'nucleo-h743zi', arithmetic: 'integer', portable: false },
  { core: 'cortex-m33', board: 'pico2', arithmetic: 'float', portable: true },
  { core: 'cortex-m33', board: 'pico2', arithmetic: 'float', portable: false },
  { core: 'cortex-m33', board: 'pico2', arithmetic: 'integer', portable: true },
  { core: 'cortex-m33', board: 'pico2', arithmetic: 'integer', portable: false },
  { core: 'rv32imc', board: 'esp32-c3-devkitm-1', arithmetic: 'integer', portable: true },
];

interface Sizes {
  code: number;
  flash: number;
  sram: number;
}

/** The library's objects for `core`, summed by `size`: code (text but the weights and tokenizer), flash (text + data), SRAM (data + bss). */
function librarySizes(core: LibraryCore, dir: string, extraFlags: string[]): Sizes {
  const objects: string[] = [];
  for (const source of readdirSync(join(dir, 'src')).filter((f) => f.endsWith('.c'))) {
    const object = join(dir, `${core.name}-${source}.o`);
    const r = spawnSync(
      core.cc!,
      [
        ...core.flags,
        ...(core.libcFlags ?? []),
        '-std=c99',
        '-O2',
        '-ffp-contract=off',
        '-fno-fast-math',
        ...extraFlags,
        `-I${join(dir, 'include')}`,
        '-c',
        '-o',
        object,
        join(dir, 'src', source),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`${core.cc} ${source}: ${r.stderr}`);
    objects.push(object);
  }
  const size = core.cc!.replace(/gcc$/, 'size');
  const out = spawnSync(size, objects, { encoding: 'utf8' }).stdout;
  const sizes = { code: 0, flash: 0, sram: 0 };
  for (const line of out.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const [text, data, bss] = f.slice(0, 3).map(Number);
    if (!/weights\.c\.o$|tokenizer_image\.c\.o$/.test(f[5])) sizes.code += text;
    sizes.flash += text + data;
    sizes.sram += data + bss;
  }
  return sizes;
}

/** Exports stories260K's Q8_0 library with `arithmetic` into `out`, for `board` if given. */
function exportStories(arithmetic: string, out: string, board?: string): void {
  exportLibrary({
    format: 'c',
    model: 'stories260K.bin',
    tokenizer: 'tok512.bin',
    quant: 'q8_0',
    arithmetic: arithmetic as 'float',
    ...(board ? { board } : {}),
    out,
  });
}

/** Whether the library fits `board` (the export's plan check), or the first reason it does not. */
function fitsBoard(board: string, arithmetic: string, dir: string): string {
  try {
    exportStories(arithmetic, dir, board);
    return 'yes';
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    const sram = /sram \(sram\): the plan needs ([\d.]+ \w+) but/.exec(e.message);
    return sram ? `no (SRAM: needs ${sram[1]})` : 'no';
  }
}

const format = (n: number) => n.toLocaleString('en-US');

/** Prints the table (see the module comment). */
export async function benchLibraryCores(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-cores-'));
  try {
    const plugin = buildInstructionCounter(tmp);
    const libraries = new Map<string, string>();
    const library = (arithmetic: string) => {
      if (!libraries.has(arithmetic)) {
        const out = join(tmp, `lib-${arithmetic}`);
        exportStories(arithmetic, out);
        libraries.set(arithmetic, out);
      }
      return libraries.get(arithmetic)!;
    };
    const probe = join(projectRoot(), 'test', 'library', 'probe.c');
    const rows: string[][] = [];
    const baselines = new Map<string, number>();
    process.stdout.write(
      `\nlibrary-cores: stories260K Q8_0, instructions per token over positions ${FIRST}-${LAST - 1} (QEMU TCG plugin count); tok/s ESTIMATED at 1 instruction per cycle\n`,
    );
    for (const v of VARIANTS) {
      const core = coreByName(v.core);
      const board = boardByName(v.board);
      if (boardCore(board).name !== core.name) throw new Error(`${v.board} is not a ${v.core} board`);
      const dir = library(v.arithmetic);
      const flags = v.portable ? ['-DLLAMA2_EMBED_NO_INTRINSICS'] : [];
      const sizes = librarySizes(core, dir, flags);
      const fits = fitsBoard(v.board, v.arithmetic, join(tmp, `fit-${v.board}-${v.arithmetic}`));
      let perToken: number | undefined;
      if (core.emulator) {
        const count = (steps: number) => {
          const args = [PROMPT, String(steps), '-1', '0.9', '1', '0'];
          const elf = join(tmp, `${v.core}-${v.arithmetic}-${v.portable}-${steps}.elf`);
          buildForEmulator({ libraryDir: dir, core, program: probe, args, elf, extraFlags: flags });
          return countInstructions(core, plugin, elf, args);
        };
        perToken = (count(LAST) - count(FIRST)) / (LAST - FIRST);
      }
      const estimate = perToken ? (board.clockMHz * 1e6) / perToken : undefined;
      const key = `${v.core}/${v.arithmetic}`;
      if (v.portable && estimate) baselines.set(key, estimate);
      const baseline = baselines.get(key);
      rows.push([
        v.core,
        `${v.arithmetic}${v.portable ? ', portable C' : core.dsp ? ', DSP' : ''}`,
        format(sizes.code),
        format(sizes.flash),
        format(sizes.sram),
        perToken ? format(Math.round(perToken)) : 'not emulated',
        `${v.board} ${board.clockMHz} MHz`,
        estimate ? `~${estimate.toFixed(1)}` : '',
        estimate && baseline ? `${(estimate / baseline).toFixed(2)}x` : '',
        fits,
      ]);
    }
    const header = ['core', 'kernels', 'code B', 'flash B', 'SRAM B', 'instr/token', 'clock', 'est. tok/s', 'vs portable', 'fits board'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const row of [header, ...rows]) process.stdout.write(`  ${row.map((c, i) => c.padEnd(widths[i])).join('  ')}\n`);
    for (const a of ANCHORS) process.stdout.write(`  anchor: ${a.name}: ${a.tokensPerSecond} tok/s\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
