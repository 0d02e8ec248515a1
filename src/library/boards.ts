/**
 * The boards `export --board` knows: the core, the clock, and the memories the library's weights
 * (read-only, in flash) and state (static RAM) must fit, checked by the same memory plan as
 * `build`'s (src/plan/plan.ts). Each board keeps a share for the application around the library:
 * 64 KB of flash for its code and 16 KB of RAM for its stack and data; the rest is the model's.
 */
import type { Target } from '../plan/target.js';
import { UserError } from '../util/errors.js';
import { coreByName, type LibraryCore } from './cores.js';

/** A board: its chip's figures from the vendor's datasheet. */
export interface LibraryBoard {
  name: string;
  description: string;
  core: string;
  clockMHz: number;
  flashBytes: number;
  /** The on-chip SRAM the application can use for data. */
  sramBytes: number;
  /** External PSRAM, which the plan does not use: the library's state is static data, in on-chip SRAM. */
  psramBytes?: number;
}

const KB = 1024;
const MB = 1024 * 1024;
/** The flash each board keeps for the application's code around the library. */
export const APPLICATION_FLASH_BYTES = 64 * KB;
/** The RAM each board keeps for the application's stack and data around the library. */
export const APPLICATION_RAM_BYTES = 16 * KB;

/** Every board, in the order they are listed. */
export const LIBRARY_BOARDS: readonly LibraryBoard[] = [
  {
    name: 'pico',
    description: 'Raspberry Pi Pico: RP2040, Cortex-M0+ at 133 MHz, 264 KB SRAM, 2 MB flash',
    core: 'cortex-m0plus',
    clockMHz: 133,
    flashBytes: 2 * MB,
    sramBytes: 264 * KB,
  },
  {
    name: 'pico2',
    description: 'Raspberry Pi Pico 2: RP2350, Cortex-M33 at 150 MHz, 520 KB SRAM, 4 MB flash',
    core: 'cortex-m33',
    clockMHz: 150,
    flashBytes: 4 * MB,
    sramBytes: 520 * KB,
  },
  {
    name: 'esp32-s3-devkitc-1',
    description: 'ESP32-S3-DevKitC-1 (N8R8): Xtensa LX7 at 240 MHz, 512 KB SRAM, 8 MB flash, 8 MB PSRAM',
    core: 'xtensa-lx7',
    clockMHz: 240,
    flashBytes: 8 * MB,
    sramBytes: 512 * KB,
    psramBytes: 8 * MB,
  },
  {
    name: 'esp32-c3-devkitm-1',
    description: 'ESP32-C3-DevKitM-1: RISC-V RV32IMC at 160 MHz, 400 KB SRAM, 4 MB flash',
    core: 'rv32imc',
    clockMHz: 160,
    flashBytes: 4 * MB,
    sramBytes: 400 * KB,
  },
  {
    name: 'nucleo-h743zi',
    description: 'NUCLEO-H743ZI: STM32H743ZI, Cortex-M7 at 480 MHz, 1 MB SRAM, 2 MB flash',
    core: 'cortex-m7',
    clockMHz: 480,
    flashBytes: 2 * MB,
    sramBytes: 1 * MB,
  },
  {
    name: 'nucleo-f446re',
    description: 'NUCLEO-F446RE: STM32F446RE, Cortex-M4F at 180 MHz, 128 KB SRAM, 512 KB flash',
    core: 'cortex-m4f',
    clockMHz: 180,
    flashBytes: 512 * KB,
    sramBytes: 128 * KB,
  },
];

/** The names `export --board` accepts. */
export function knownBoards(): string[] {
  return LIBRARY_BOARDS.map((b) => b.name);
}

/** The board called `name`; an unknown name is a UserError (exit code 2) listing the boards. */
export function boardByName(name: string): LibraryBoard {
  const board = LIBRARY_BOARDS.find((b) => b.name === name);
  if (!board) {
    const list = LIBRARY_BOARDS.map((b) => `  ${b.name.padEnd(20)} ${b.description}`).join('\n');
    throw new UserError(`unknown --board "${name}". The boards export knows:\n${list}`, 2);
  }
  return board;
}

/** The board's core. */
export function boardCore(board: LibraryBoard): LibraryCore {
  return coreByName(board.core);
}

/**
 * The board as a plan target: weights in flash, state in SRAM, each less the application's share;
 * no program of llama2-embed's runs there, so the toolchain is only the core's compiler.
 */
export function boardTarget(board: LibraryBoard): Target {
  const core = boardCore(board);
  return {
    name: board.name,
    description: board.description,
    cpu: { arch: core.name, cores: 1, fpu: core.fpu },
    memories: [
      { name: 'flash', kind: 'flash', bytes: board.flashBytes - APPLICATION_FLASH_BYTES },
      { name: 'sram', kind: 'sram', bytes: board.sramBytes - APPLICATION_RAM_BYTES },
    ],
    placement: { weights: 'flash', state: 'sram' },
    toolchain: { cc: core.cc ?? 'cc', cflags: [...core.flags], ldflags: [] },
    output: 'firmware',
    threads: false,
    defaults: core.fpu ? undefined : { quant: 'q8_0', arithmetic: 'integer' },
  };
}
