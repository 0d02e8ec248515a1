/**
 * What the linker actually placed: section sizes of a firmware ELF (`size -A`), set beside the
 * memory plan so that a difference between the two is seen at build time, not on the board.
 */
import { spawnSync } from 'node:child_process';
import type { Plan } from '../plan/plan.js';
import { UserError } from '../util/errors.js';
import { formatBytes } from '../util/progress.js';
import { formatTable } from '../util/table.js';

/**
 * Each section of `elf` with its size and address (bytes), as `size -A` says, run as the compiler `cc` with
 * gcc replaced by size (arm-none-eabi-size). Throws a UserError when that fails.
 */
export function readSectionSizes(elf: string, cc: string): Map<string, { bytes: number; address: number }> {
  const size = cc.replace(/gcc$/, 'size');
  const r = spawnSync(size, ['-A', elf], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new UserError(`${size} -A ${elf} failed: ${r.error?.message ?? r.stderr}`);
  const sections = new Map<string, { bytes: number; address: number }>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\.\S+)\s+(\d+)\s+(\d+)/.exec(line.trim());
    if (m) sections.set(m[1], { bytes: Number(m[2]), address: Number(m[3]) });
  }
  return sections;
}

/** The plan's weights and state beside the linker's sections; throws when the linker disagrees with the plan. */
export function comparePlanWithSections(
  plan: Plan,
  sections: Map<string, { bytes: number; address: number }>,
  elf: string,
  ramReserveBytes: number,
): string {
  const weights = sections.get('.model_weights') ?? sections.get('.rodata.model_weights');
  const bss = sections.get('.bss')?.bytes ?? 0;
  const flashUsed = [...sections.entries()]
    .filter(([, s]) => s.address >= 0x10000000 && s.address < 0x11000000)
    .reduce((n, [, s]) => n + s.bytes, 0);
  const ramUsed = [...sections.entries()]
    .filter(([name, s]) => s.address >= 0x20000000 && s.address < 0x20042000 && name !== '.stack')
    .reduce((n, [, s]) => n + s.bytes, 0);
  const code = plan.buffers.find((b) => b.role === 'code');
  const tables = plan.buffers.filter((b) => b.role === 'tables').reduce((n, b) => n + b.bytes, 0);
  const tablesLinked = sections.get('.tokenizer_tables')?.bytes ?? 0;
  const sramText = sections.get('.sram_text')?.bytes ?? 0;
  const rows = [
    ['weights (in flash)', formatBytes(plan.weightsBytes), weights ? formatBytes(weights.bytes) : 'not found'],
    ['run state (in SRAM, .bss)', formatBytes(plan.stateBytes), `${formatBytes(bss)} (.bss, with the firmware's own)`],
    ...(code ? [['code run from SRAM (.sram_text)', formatBytes(code.bytes), formatBytes(sramText)]] : []),
    ...(tables > 0 ? [['tokenizer tables (in flash)', formatBytes(tables), formatBytes(tablesLinked)]] : []),
    ['flash, all sections', '', formatBytes(flashUsed)],
    ['SRAM, all sections', '', formatBytes(ramUsed)],
  ];
  if (!weights)
    throw new UserError(
      `${elf}: the linker placed no .model_weights section: the weights are missing from the firmware (a bug in the build).`,
    );
  if (weights.bytes < plan.weightsBytes) {
    throw new UserError(
      `${elf}: the weights section holds ${weights.bytes} bytes but the plan has ${plan.weightsBytes} (a bug in the build).`,
    );
  }
  // the plan is an upper bound of the state (it counts alignment padding); the firmware's own variables come on top
  if (bss > plan.stateBytes + ramReserveBytes) {
    throw new UserError(
      `${elf}: .bss holds ${bss} bytes, more than the plan's ${plan.stateBytes} bytes of state and the ${ramReserveBytes} bytes kept for the firmware (a bug in the plan).`,
    );
  }
  // the tables the plan counts in flash are the ones linked
  if (tables > 0 && tablesLinked !== tables) {
    throw new UserError(
      `${elf}: .tokenizer_tables holds ${tablesLinked} bytes but the plan counts ${tables} bytes of tokenizer tables (a bug in the plan).`,
    );
  }
  // the measured objects plus room for veneers: the linker's section must not be larger
  if (code && sramText > code.bytes) {
    throw new UserError(
      `${elf}: .sram_text holds ${sramText} bytes, more than the ${code.bytes} bytes the plan measured for it (a bug in the build).`,
    );
  }
  return `plan against the linker (${elf}):\n${formatTable(['', 'plan', 'linker'], rows, { align: ['left', 'right', 'right'], indent: '  ' })}`;
}
