/**
 * Raspberry Pi programs on this machine: cross-compiled with aarch64-linux-gnu-gcc (static, so
 * qemu needs no sysroot) and run under qemu-aarch64 emulating a board's CPU.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { loadTarget } from '../../src/plan/target.js';

/** The board targets and the CPU qemu emulates for each (its -mcpu). */
export const PI_BOARDS = [
  { target: 'rpi-zero2', cpu: 'cortex-a53' },
  { target: 'rpi4', cpu: 'cortex-a72' },
  { target: 'rpi5', cpu: 'cortex-a76' },
] as const;

export interface QemuRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs an AArch64 program under `qemu-aarch64 -cpu <cpu>`. */
export function runQemu(cpu: string, program: string, args: string[], input?: string): QemuRun {
  const r = spawnSync('qemu-aarch64', ['-cpu', cpu, program, ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 256 * 1024 * 1024,
    timeout: 600_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Like runQemu, but the program must succeed; its stdout. */
export function runQemuOk(cpu: string, program: string, args: string[]): string {
  const r = runQemu(cpu, program, args);
  if (r.status !== 0) throw new Error(`${program} under qemu-aarch64 -cpu ${cpu} ended with ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout;
}

/** Compiles one C file for a Pi target with that target's own flags (plus `extra`). */
export function crossCompile(target: string, source: string, output: string, extra: string[] = []): void {
  const t = loadTarget(target);
  execFileSync(t.toolchain.cc, [...t.toolchain.cflags, ...extra, '-o', output, source, ...t.toolchain.ldflags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The functions of an AArch64 program whose code contains `mnemonic`, with how many times. */
export function functionsUsing(program: string, mnemonic: string): Map<string, number> {
  const listing = execFileSync('aarch64-linux-gnu-objdump', ['-d', '--no-show-raw-insn', program], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  const found = new Map<string, number>();
  let current = '';
  for (const line of listing.split('\n')) {
    const fn = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (fn) current = fn[1];
    else if (new RegExp(`^\\s+[0-9a-f]+:\\s+${mnemonic}\\s`).test(line)) found.set(current, (found.get(current) ?? 0) + 1);
  }
  return found;
}
