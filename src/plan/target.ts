/**
 * Targets are data: `targets/<name>.json` describes a board or machine (CPU, memories, where
 * weights and state go, toolchain, output). Adding a board is adding a file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../models/locate.js';
import { UserError } from '../util/errors.js';

export type MemoryKind = 'sram' | 'flash' | 'psram' | 'dram';

export interface Memory {
  name: string;
  kind: MemoryKind;
  /** Capacity in bytes available to the model; null = limited only by the machine (a process). */
  bytes: number | null;
  address?: number;
}

export interface Target {
  name: string;
  description: string;
  cpu: { arch: string; cores: number; fpu: boolean; features?: string[] };
  memories: Memory[];
  /** Which memory holds the weights (read-only) and the state (KV cache, activations). */
  placement: { weights: string; state: string };
  toolchain: { cc: string; cflags: string[]; ldflags: string[] };
  output: 'executable' | 'firmware';
  /** Whether matmuls may be split across threads (pthreads). */
  threads: boolean;
}

export function targetsDir(): string {
  return join(projectRoot(), 'targets');
}

export function knownTargets(): string[] {
  return readdirSync(targetsDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export function loadTarget(name: string): Target {
  const path = join(targetsDir(), `${name}.json`);
  if (!existsSync(path)) throw new UserError(`unknown target "${name}". Known targets: ${knownTargets().join(', ')}.`, 2);
  let target: Target;
  try {
    target = JSON.parse(readFileSync(path, 'utf8')) as Target;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message}).`);
  }
  for (const role of ['weights', 'state'] as const) {
    if (!target.memories.some((m) => m.name === target.placement[role])) {
      throw new UserError(`${path}: placement.${role} names memory "${target.placement[role]}", which is not among its memories.`);
    }
  }
  return target;
}
