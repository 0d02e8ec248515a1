/**
 * The cores `export --core` knows: how each is compiled (the flags its library needs), whether it
 * computes float32 in hardware (else the integer kernels are the default) and whether it has Arm's
 * DSP extension, whose SXTB16/SMLAD int8 dot products the kernels use (kernel-builtins.h's
 * DOT_Q8_DSP path, chosen by the compiler's __ARM_FEATURE_DSP). Where QEMU emulates a board with
 * the core, `emulator` names it: the tests and the library-cores bench run the library there.
 */
import { UserError } from '../util/errors.js';

/** How a program is run under QEMU for a core (src/library/emulator.ts builds and runs it). */
export interface CoreEmulator {
  /** The QEMU program: a whole board (qemu-system-arm) or a Linux process (qemu-riscv32). */
  qemu: 'qemu-system-arm' | 'qemu-riscv32';
  /** qemu-system-arm's -M machine, whose memory map the linker script in templates/library/qemu/ follows. */
  machine?: 'mps2-an386' | 'mps2-an500' | 'mps2-an505';
  /** The start-up file and the linker script there. */
  startup: string;
  linkerScript: string;
}

/** A core the library can be exported for. */
export interface LibraryCore {
  name: string;
  /** One line, for --help and the unknown-core message. */
  description: string;
  /** The cross compiler; undefined where none is installable here (Xtensa). */
  cc?: string;
  /** The code-generation flags for this core (the exported package files pass them). */
  flags: readonly string[];
  /** What the cross compiler installed here needs to find a C library (Debian's RISC-V one: picolibc's specs). */
  libcFlags?: readonly string[];
  /** float32 in hardware: the float kernels are fast; without it integer arithmetic is the default on Q8_0. */
  fpu: boolean;
  /** Arm's DSP extension: the int8 dot products take SXTB16 + SMLAD, four products in two instructions. */
  dsp: boolean;
  emulator?: CoreEmulator;
}

const ARM = 'arm-none-eabi-gcc';
const RV32 = 'riscv64-unknown-elf-gcc';

/** Every core, in the order they are listed. */
export const LIBRARY_CORES: readonly LibraryCore[] = [
  {
    name: 'cortex-m0plus',
    description: 'Arm Cortex-M0+ (RP2040): no FPU, the integer kernels',
    cc: ARM,
    flags: ['-mcpu=cortex-m0plus', '-mthumb'],
    fpu: false,
    dsp: false,
  },
  {
    name: 'cortex-m4f',
    description: 'Arm Cortex-M4 with its single-precision FPU (STM32F4): DSP int8 dot products',
    cc: ARM,
    flags: ['-mcpu=cortex-m4', '-mthumb', '-mfpu=fpv4-sp-d16', '-mfloat-abi=hard'],
    fpu: true,
    dsp: true,
    emulator: { qemu: 'qemu-system-arm', machine: 'mps2-an386', startup: 'arm-startup.c', linkerScript: 'mps2-an386.ld' },
  },
  {
    name: 'cortex-m7',
    description: 'Arm Cortex-M7 with its double-precision FPU (STM32H7): DSP int8 dot products',
    cc: ARM,
    flags: ['-mcpu=cortex-m7', '-mthumb', '-mfpu=fpv5-d16', '-mfloat-abi=hard'],
    fpu: true,
    dsp: true,
    emulator: { qemu: 'qemu-system-arm', machine: 'mps2-an500', startup: 'arm-startup.c', linkerScript: 'mps2-an500.ld' },
  },
  {
    name: 'cortex-m33',
    description: 'Arm Cortex-M33 with FPU and DSP (RP2350, nRF5340, STM32U5): DSP int8 dot products',
    cc: ARM,
    flags: ['-mcpu=cortex-m33', '-mthumb', '-mfpu=fpv5-sp-d16', '-mfloat-abi=hard'],
    fpu: true,
    dsp: true,
    emulator: { qemu: 'qemu-system-arm', machine: 'mps2-an505', startup: 'arm-startup.c', linkerScript: 'mps2-an505.ld' },
  },
  {
    name: 'rv32imc',
    description: 'RISC-V RV32IMC (ESP32-C3, ESP32-C6): no FPU, the integer kernels',
    cc: RV32,
    flags: ['-march=rv32imc', '-mabi=ilp32'],
    libcFlags: ['--specs=picolibc.specs'],
    fpu: false,
    dsp: false,
    emulator: { qemu: 'qemu-riscv32', startup: 'rv32-linux-startup.c', linkerScript: 'rv32-linux.ld' },
  },
  {
    name: 'xtensa-lx7',
    description: "Xtensa LX7 (ESP32-S3): the kernels' portable C, compiled by ESP-IDF's compiler (none is installable here)",
    flags: [],
    fpu: true,
    dsp: false,
  },
  {
    name: 'generic',
    description: "any C99 compiler: the kernels' portable C (with the host's SIMD paths where the compiler enables them)",
    flags: [],
    fpu: true,
    dsp: false,
  },
];

/** The names `export --core` accepts. */
export function knownCores(): string[] {
  return LIBRARY_CORES.map((c) => c.name);
}

/** The core called `name`; an unknown name is a UserError (exit code 2) listing the cores. */
export function coreByName(name: string): LibraryCore {
  const core = LIBRARY_CORES.find((c) => c.name === name);
  if (!core) {
    const list = LIBRARY_CORES.map((c) => `  ${c.name.padEnd(14)} ${c.description}`).join('\n');
    throw new UserError(`unknown --core "${name}". The cores export knows:\n${list}`, 2);
  }
  return core;
}
