/**
 * An exported library run under QEMU for a core that QEMU emulates (cores.ts's `emulator`): a
 * program written against llama2_embed.h is linked with the library's sources, the core's flags
 * and a start-up of our own (templates/library/qemu/: the vector table, .data and .bss, semihosting
 * on the MPS2 boards; Linux system calls under qemu-riscv32), then run. Used by the tests (the
 * tokens must be the engine's) and the library-cores bench (sizes, instructions per token).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import type { CoreEmulator, LibraryCore } from './cores.js';

/** The flags every emulated build takes: C99, optimized, llama2.c's float32 exactly. */
const COMMON_FLAGS = ['-std=c99', '-O2', '-ffp-contract=off', '-fno-fast-math', '-ffunction-sections', '-fdata-sections'];

/** The directory of the start-up files and linker scripts. */
export function qemuTemplatesDir(): string {
  return join(projectRoot(), 'templates', 'library', 'qemu');
}

/** The core's emulator; a programming error for a core without one. */
export function emulatorOf(core: LibraryCore): CoreEmulator {
  if (!core.emulator || !core.cc) throw new Error(`${core.name} has no emulator`);
  return core.emulator;
}

/** A C string literal for `text` (printable ASCII, as the tests' arguments). */
function cString(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Compiles and links `program` (a C file using llama2_embed.h) with the library exported in
 * `libraryDir` for `core`'s emulator, into `elf`; `extraFlags` go to every compilation (e.g.
 * -DLLAMA2_EMBED_NO_INTRINSICS for the portable kernels). On the MPS2 boards the arguments are
 * compiled in (no command line reaches a bare-metal program); under qemu-riscv32 they are given
 * when it runs. Throws with the compiler's messages when the build fails.
 */
export function buildForEmulator(opts: {
  libraryDir: string;
  core: LibraryCore;
  program: string;
  args: readonly string[];
  elf: string;
  extraFlags?: readonly string[];
}): void {
  const emulator = emulatorOf(opts.core);
  const templates = qemuTemplatesDir();
  const sources = readdirSync(join(opts.libraryDir, 'src'))
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(opts.libraryDir, 'src', f));
  const system =
    emulator.qemu === 'qemu-system-arm'
      ? ['--specs=nano.specs', '--specs=nosys.specs', `-DPROGRAM_ARGS=${['program', ...opts.args].map(cString).join(', ')}`]
      : [...(opts.core.libcFlags ?? [])];
  const args = [
    ...opts.core.flags,
    ...COMMON_FLAGS,
    ...(opts.extraFlags ?? []),
    ...system,
    '-nostartfiles',
    `-T${join(templates, emulator.linkerScript)}`,
    `-L${templates}`,
    '-Wl,--gc-sections',
    `-I${join(opts.libraryDir, 'include')}`,
    '-o',
    opts.elf,
    join(templates, emulator.startup),
    opts.program,
    ...sources,
    '-lm',
  ];
  const r = spawnSync(opts.core.cc!, args, { encoding: 'utf8' });
  // newlib's nosys stubs say they always fail: the programs never call them
  const messages = (r.stderr ?? '').split('\n').filter((l) => l !== '' && !/is not implemented and will always fail/.test(l));
  if (r.error) throw r.error;
  if (r.status !== 0 || messages.length > 0) throw new Error(`${opts.core.cc} for ${opts.core.name} failed:\n${messages.join('\n')}`);
}

/** The QEMU command line that runs `elf` (plus `qemuFlags` before it). */
function qemuCommand(core: LibraryCore, elf: string, args: readonly string[], qemuFlags: readonly string[]): [string, string[]] {
  const emulator = emulatorOf(core);
  if (emulator.qemu === 'qemu-system-arm')
    return ['qemu-system-arm', ['-M', emulator.machine!, '-nographic', '-semihosting', ...qemuFlags, '-kernel', elf]];
  return ['qemu-riscv32', [...qemuFlags, elf, ...args]];
}

/** What a program printed under the emulator, and its exit status. */
export interface EmulatorRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `elf` (built by buildForEmulator with the same `args`) under the core's emulator, with a
 * time limit. Its output goes to files (`elf`.stdout, .stderr), not pipes: qemu-system-arm puts
 * its standard output in non-blocking mode, and what it writes to a full pipe is lost.
 */
export function runOnEmulator(core: LibraryCore, elf: string, args: readonly string[], timeoutMs = 120_000): EmulatorRun {
  const [program, argv] = qemuCommand(core, elf, args, []);
  const outPath = `${elf}.stdout`;
  const errPath = `${elf}.stderr`;
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  try {
    const r = spawnSync(program, argv, { timeout: timeoutMs, stdio: ['ignore', out, err] });
    if (r.error) throw r.error;
    return { status: r.status, stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

/**
 * Builds the instruction-counting TCG plugin (templates/library/qemu/insn-count-plugin.c) with the
 * host's cc into `dir`; returns its path.
 */
export function buildInstructionCounter(dir: string): string {
  const plugin = join(dir, 'insn-count-plugin.so');
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', plugin, join(qemuTemplatesDir(), 'insn-count-plugin.c')], {
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`cc could not build the instruction-counting plugin:\n${r.stderr}`);
  return plugin;
}

/**
 * The instructions `elf` executes from start to exit, counted by QEMU with the TCG plugin of
 * buildInstructionCounter (`plugin`): each translated block adds its instruction count when it
 * runs. (Checked against a count of QEMU's -singlestep -d exec log, one line per instruction:
 * the same numbers, at a hundredth of the speed.)
 */
export function countInstructions(core: LibraryCore, plugin: string, elf: string, args: readonly string[], timeoutMs = 600_000): number {
  // the log (QEMU's stderr) to a file, as runOnEmulator's output; the program's own output is not needed
  const [program, argv] = qemuCommand(core, elf, args, ['-plugin', plugin, '-d', 'plugin']);
  const logPath = `${elf}.plugin-log`;
  const log = openSync(logPath, 'w');
  let status: number | null;
  try {
    const r = spawnSync(program, argv, { timeout: timeoutMs, stdio: ['ignore', 'ignore', log] });
    if (r.error) throw r.error;
    status = r.status;
  } finally {
    closeSync(log);
  }
  const text = readFileSync(logPath, 'utf8');
  const m = /^instructions (\d+)$/m.exec(text);
  if (status !== 0 || !m)
    throw new Error(`${program} ${argv.join(' ')}: exit status ${status}, no instruction count:\n${text.slice(-500)}`);
  return Number(m[1]);
}
