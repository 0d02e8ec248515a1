/**
 * Targets are data: `targets/<name>.json` describes a board or machine (CPU, memories, where
 * weights and state go, toolchain, output). Adding a board is adding a file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
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
  /** For output 'firmware': the chip's whole memories and what the firmware keeps for itself. */
  firmware?: FirmwareSpec;
  /**
   * What `build` uses when not told: the weights' precision (else the checkpoint's own) and the
   * kernels' arithmetic (integer applies to Q8_0 weights; others stay float).
   */
  defaults?: { quant?: 'f32' | 'q8_0' | 'q4_0' | 'mixed'; arithmetic?: 'float' | 'integer' };
}

/**
 * A microcontroller firmware's layout: the memories' capacities in `memories` are what is left
 * for the model once these reserves are taken (flash: flashBytes - boot2Bytes - codeReserveBytes;
 * SRAM: ramBytes - stackBytes - ramReserveBytes).
 */
export interface FirmwareSpec {
  /** The directory under firmware/ with the runtime (boot, startup, clocks, UART). */
  chip: string;
  /** The flash chip's size (the linker script's FLASH length). */
  flashBytes: number;
  /** The second stage boot loader at the start of flash (the RP2040's: 256 bytes). */
  boot2Bytes: number;
  /** Which boot2 to link: `safe` (serial 03h reads) or `fast` (dual-output 3Bh reads). */
  boot2: 'safe' | 'fast' | 'quad';
  /** Flash kept for code and constant data other than the model's weights. */
  codeReserveBytes: number;
  ramBytes: number;
  /** The stack, at the top of SRAM. */
  stackBytes: number;
  /** SRAM kept for the firmware's own .data and .bss (besides the model's state). */
  ramReserveBytes: number;
  /**
   * Objects whose code runs from SRAM when the plan has room for it (copied at boot like .data):
   * the forward pass and its kernels, which a flash read through a small XIP cache would
   * otherwise fetch again on every layer, evicted by the weights streaming through the cache.
   */
  sramCode?: string[];
  /** The system clock the runtime sets up. */
  clockHz: number;
  uart: { index: number; txPin: number; rxPin: number; baud: number };
}

/** Where an RP2040 firmware talks: its USB port (CDC serial), UART0, or both (`build --stdio`). */
export const FIRMWARE_STDIO = ['usb', 'uart', 'both'] as const;
export type FirmwareStdio = (typeof FIRMWARE_STDIO)[number];

/** The directory of the target descriptions: targets/ at the project root. */
export function targetsDir(): string {
  return join(projectRoot(), 'targets');
}

/** The names of the targets there (file names without .json), sorted. */
export function knownTargets(): string[] {
  return readdirSync(targetsDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/**
 * Reads targets/<name>.json. Throws a UserError for an unknown name (listing the known ones), a file that
 * is not JSON, or a placement naming a memory the target does not have; the rest of the file is trusted.
 */
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

/**
 * The target with a firmware's board options changed: another flash size (boards with 4 or 16 MB
 * of flash exist) or another boot2. The model's share of the flash is recomputed.
 */
export function withFirmwareOptions(
  target: Target,
  options: { flashBytes?: number; boot2?: 'safe' | 'fast' | 'quad'; clockHz?: number },
): Target {
  if (options.flashBytes === undefined && options.boot2 === undefined && options.clockHz === undefined) return target;
  const fw = target.firmware;
  if (!fw) throw new UserError(`--flash-size, --boot2 and --clock apply to microcontroller targets; ${target.name} is not one.`, 2);
  const firmware = {
    ...fw,
    flashBytes: options.flashBytes ?? fw.flashBytes,
    boot2: options.boot2 ?? fw.boot2,
    clockHz: options.clockHz ?? fw.clockHz,
  };
  const modelFlash = firmware.flashBytes - firmware.boot2Bytes - firmware.codeReserveBytes;
  if (modelFlash <= 0)
    throw new UserError(`a flash of ${firmware.flashBytes} bytes leaves no room for the model after boot2 and the code.`, 2);
  const memories = target.memories.map((m) => (m.name === target.placement.weights ? { ...m, bytes: modelFlash } : m));
  return { ...target, firmware, memories };
}
