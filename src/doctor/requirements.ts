/**
 * What llama2-embed and its tests need from the machine, in one place: the Node.js version, the
 * model files the tests and the default `generate` use, and the external tools, each with what it
 * is for and the Debian package that installs it. `llama2-embed doctor`, the tests' skip helper
 * and `.ci/run`'s package list (a test checks they agree) all read this list.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { locateModelFile } from '../models/locate.js';
import { findKnownFile } from '../models/registry.js';

/** An external program: looked up on PATH (then in `extraDirs`), installed by `debianPackages`. */
export interface ToolRequirement {
  /** The name the program is run by. */
  name: string;
  /** Other names that will do (Ubuntu's `chromium-browser`). */
  alternatives?: readonly string[];
  /** Directories searched after PATH (sshd lives in /usr/sbin, often not on a user's PATH). */
  extraDirs?: readonly string[];
  /** What needs it. */
  usedFor: string;
  /** Debian/Ubuntu packages that install it (and what it needs to work). */
  debianPackages: readonly string[];
}

/** Every external tool, in the order doctor lists them. */
export const TOOLS: readonly ToolRequirement[] = [
  { name: 'cc', usedFor: 'host programs (build/run --target host) and the C in the tests', debianPackages: ['build-essential'] },
  { name: 'make', usedFor: 'building every generated C project', debianPackages: ['build-essential'] },
  { name: 'cmake', usedFor: 'the test that builds an exported library with its CMakeLists.txt', debianPackages: ['cmake'] },
  {
    name: 'arm-none-eabi-gcc',
    usedFor: 'RP2040 firmware (build --target rp2040) and its tests in the emulator',
    debianPackages: ['gcc-arm-none-eabi', 'libnewlib-arm-none-eabi'],
  },
  {
    name: 'aarch64-linux-gnu-gcc',
    usedFor: 'Raspberry Pi programs (build --target rpi-zero2/rpi4/rpi5)',
    debianPackages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
  },
  {
    name: 'riscv64-unknown-elf-gcc',
    usedFor: 'the library export compiled for RISC-V rv32imc (ESP32-C3/C6 class), in the tests',
    debianPackages: ['gcc-riscv64-unknown-elf', 'picolibc-riscv64-unknown-elf'],
  },
  {
    name: 'qemu-aarch64',
    usedFor: 'running Raspberry Pi programs on this machine (run --target rpi4, tests)',
    debianPackages: ['qemu-user'],
  },
  {
    name: 'qemu-system-arm',
    usedFor:
      'running the exported library on emulated Cortex-M4 and M33 boards (mps2-an386, mps2-an505), in the tests and the library-cores bench',
    debianPackages: ['qemu-system-arm'],
  },
  {
    name: 'qemu-riscv32',
    usedFor: 'running the exported library built for RISC-V rv32imc, in the tests and the library-cores bench',
    debianPackages: ['qemu-user'],
  },
  { name: 'socat', usedFor: 'the serial-port tests (pseudo-terminal pairs)', debianPackages: ['socat'] },
  { name: 'chromium', alternatives: ['chromium-browser'], usedFor: 'the test that renders the HTML report', debianPackages: ['chromium'] },
  { name: 'ssh', usedFor: 'flash/monitor --host (a Raspberry Pi over SSH)', debianPackages: ['openssh-client'] },
  { name: 'ssh-keygen', usedFor: 'the SSH tests (throwaway keys)', debianPackages: ['openssh-client'] },
  {
    name: 'sshd',
    extraDirs: ['/usr/sbin'],
    usedFor: 'the SSH tests (a local sshd stands in for a Pi)',
    debianPackages: ['openssh-server'],
  },
  {
    name: 'udevadm',
    extraDirs: ['/usr/bin', '/bin', '/sbin'],
    usedFor: 'monitor --port auto on Linux (lists serial ports)',
    debianPackages: ['udev'],
  },
];

/** The names of `TOOLS`. */
export type ToolName =
  | 'cc'
  | 'make'
  | 'cmake'
  | 'arm-none-eabi-gcc'
  | 'aarch64-linux-gnu-gcc'
  | 'riscv64-unknown-elf-gcc'
  | 'qemu-aarch64'
  | 'qemu-system-arm'
  | 'qemu-riscv32'
  | 'socat'
  | 'chromium'
  | 'ssh'
  | 'ssh-keygen'
  | 'sshd'
  | 'udevadm';

/** The model files the tests use (and `generate` by default). */
export const MODEL_FILES = ['stories260K.bin', 'tok512.bin', 'tokenizer.bin'] as const;

/** One of `MODEL_FILES`. */
export type ModelFileName = (typeof MODEL_FILES)[number];

/** The oldest Node.js llama2-embed runs on (package.json's `engines`). */
export const MINIMUM_NODE = '20.19.0';

/** The requirement named `name` (throws on a name not in `TOOLS`: a programming error). */
export function toolRequirement(name: ToolName): ToolRequirement {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool) throw new Error(`unknown tool ${name}`);
  return tool;
}

/** Every Debian package in `TOOLS`, each once, in order. */
export function debianPackages(tools: readonly ToolRequirement[] = TOOLS): string[] {
  return [...new Set(tools.flatMap((t) => t.debianPackages))];
}

/** The apt-get line that installs `tools`. */
export function aptInstallLine(tools: readonly ToolRequirement[]): string {
  return `sudo apt-get install --no-install-recommends ${debianPackages(tools).join(' ')}`;
}

/** Where an executable called `name` is: PATH first, then `extraDirs`; undefined when nowhere. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = []): string | undefined {
  if (isAbsolute(name)) return isExecutable(name) ? name : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  const suffixes = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').concat('') : [''];
  for (const dir of dirs) {
    for (const suffix of suffixes) {
      const candidate = join(dir, name + suffix);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the tool is, or undefined when it is not installed. */
export function findTool(tool: ToolRequirement, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of [tool.name, ...(tool.alternatives ?? [])]) {
    const found = findExecutable(name, env, tool.extraDirs);
    if (found) return found;
  }
  return undefined;
}

/** Where the model lookup finds `name`, or undefined when it does not. */
export function findModelFile(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    return locateModelFile(name, env);
  } catch {
    return undefined;
  }
}

/** The `llama2-embed pull NAME` commands that bring the missing model files, each once. */
export function pullCommands(missingFiles: readonly string[], cli = 'llama2-embed'): string[] {
  const models = missingFiles.map((f) => findKnownFile(f)?.model.name).filter((m): m is string => Boolean(m));
  return [...new Set(models)].map((m) => `${cli} pull ${m}`);
}

/** Whether `version` (e.g. process.version, "v20.20.2") is at least `MINIMUM_NODE`. */
export function nodeIsRecentEnough(version: string): boolean {
  const [a, b, c] = version.replace(/^v/, '').split('.').map(Number);
  const [x, y, z] = MINIMUM_NODE.split('.').map(Number);
  return a !== x ? a > x : b !== y ? b > y : c >= z;
}
