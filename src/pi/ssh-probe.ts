/**
 * What the Pi is, asked over SSH before anything is copied: its system and architecture
 * (`uname -sm`), whether its CPU has the dot product instructions a Pi 5 build needs, who logs in
 * and where home is, and the free space where the program will go (`df -Pk`). Then the checks
 * against the program: a program for another architecture, or a disk too full, stops the deploy
 * with a message that says what was expected, what was found and what to do.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { formatBytes } from '../util/progress.js';
import { UserError } from '../util/errors.js';
import { runRemoteOk, type SshDestination } from './ssh-client.js';
import { displayRemote, remotePath, shellQuote } from './ssh-shell.js';

/** The program's name in the build directory and on the Pi. */
export const PROGRAM_NAME = 'llama2';

export interface RemoteFacts {
  /** `uname -s`: Linux. */
  os: string;
  /** `uname -m`: aarch64, armv7l, x86_64, … */
  machine: string;
  /** The CPU has the dot product instructions (`asimddp` in /proc/cpuinfo): a Pi 5. */
  dotProduct: boolean;
  user: string;
  home: string;
  /** The deepest directory of the path that exists already (where df looked). */
  existingDir: string;
  /** Free bytes for the user on that file system, when df answered. */
  availableBytes?: number;
  /** The file system's mount point. */
  mountPoint?: string;
  /** The devices asked about (a gadget serial port), that exist. */
  devices: string[];
}

/** The shell script that prints the facts, one `key=value` a line. */
export function probeScript(remoteDir: string, devices: string[] = []): string {
  return [
    'echo "os=$(uname -s)"',
    'echo "machine=$(uname -m)"',
    'if grep -qw asimddp /proc/cpuinfo 2>/dev/null; then echo dotprod=yes; else echo dotprod=no; fi',
    'echo "user=$(id -un)"',
    'echo "home=$HOME"',
    `d=${remotePath(remoteDir)}`,
    'while [ ! -d "$d" ]; do d=$(dirname -- "$d"); done',
    'echo "existing=$d"',
    'df -Pk -- "$d" 2>/dev/null | tail -n 1 | sed "s/^/df=/"',
    ...devices.map((dev) => `if [ -e ${shellQuote(dev)} ]; then echo device=${shellQuote(dev)}; fi`),
  ].join('\n');
}

/** The facts in probeScript's output; other lines are ignored, and a missing fact stays empty (or undefined). */
export function parseProbe(stdout: string): RemoteFacts {
  const facts: RemoteFacts = { os: '', machine: '', dotProduct: false, user: '', home: '', existingDir: '', devices: [] };
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === 'os') facts.os = value;
    else if (key === 'machine') facts.machine = value;
    else if (key === 'dotprod') facts.dotProduct = value === 'yes';
    else if (key === 'user') facts.user = value;
    else if (key === 'home') facts.home = value;
    else if (key === 'existing') facts.existingDir = value;
    else if (key === 'device') facts.devices.push(value);
    else if (key === 'df') {
      // Filesystem 1024-blocks Used Available Capacity Mounted-on (the file system's name may have spaces)
      const m = /(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(.+)$/.exec(value);
      if (m) {
        facts.availableBytes = Number(m[3]) * 1024;
        facts.mountPoint = m[5];
      }
    }
  }
  return facts;
}

/**
 * Runs probeScript on `dest` over SSH (`devices`: paths whose existence to report) and reads its answer.
 * Throws a UserError when ssh fails or the machine does not say its architecture.
 */
export async function probeRemote(dest: SshDestination, remoteDir: string, devices: string[] = []): Promise<RemoteFacts> {
  const { stdout } = await runRemoteOk(dest, probeScript(remoteDir, devices), 'asking what the machine is (uname, df)');
  const facts = parseProbe(stdout);
  if (!facts.machine) throw new UserError(`${dest.host} did not say what machine it is (uname -m printed nothing): is it a Linux machine?`);
  return facts;
}

/** ELF e_machine values, by `uname -m`'s names for them. */
const ELF_MACHINES: Record<number, string> = { 3: 'i686', 40: 'armv7l', 62: 'x86_64', 183: 'aarch64', 243: 'riscv64' };

/** The architecture an ELF program is for, in `uname -m`'s words (undefined: not an ELF file). */
export function programMachine(path: string): string | undefined {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, header, 0, header.length, 0) < header.length) return undefined;
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const machine = header[5] === 2 ? header.readUInt16BE(18) : header.readUInt16LE(18);
  return ELF_MACHINES[machine] ?? `ELF machine ${machine}`;
}

/** Names a machine for people. */
function describeMachine(machine: string): string {
  if (machine === 'aarch64' || machine === 'arm64') return `${machine} (64-bit Arm)`;
  if (/^armv[67]/.test(machine)) return `${machine} (32-bit Arm)`;
  if (machine === 'x86_64') return 'x86_64 (64-bit Intel/AMD)';
  return machine;
}

/**
 * Refuses a machine the program cannot run on: another system than Linux, another architecture
 * (a 32-bit Raspberry Pi OS, an x86 machine), a CPU without the dot product a Pi 5 build needs.
 */
export function checkArchitecture(dest: SshDestination, target: string, programArch: string, facts: RemoteFacts): void {
  if (facts.os !== 'Linux') {
    throw new UserError(
      `${dest.host} runs ${facts.os || 'an unknown system'} (uname -s), not Linux: the ${target} program is a Linux program. Deploy to a Raspberry Pi running Raspberry Pi OS (or another Linux).`,
    );
  }
  if (facts.machine !== programArch) {
    const expected = describeMachine(programArch);
    const found = describeMachine(facts.machine);
    let advice: string;
    if (programArch === 'aarch64' && /^armv[67]/.test(facts.machine)) {
      advice =
        'It runs a 32-bit system. Install the 64-bit Raspberry Pi OS (Raspberry Pi Imager: "Raspberry Pi OS (64-bit)"); ' +
        'a Pi Zero 2 W, Pi 3, Pi 4 and Pi 5 run it. (A first Pi Zero or Pi 1 cannot run 64-bit programs.)';
    } else if (programArch === 'aarch64') {
      advice = `Deploy to a Raspberry Pi, or build for this machine: llama2-embed build --target host on ${dest.host} itself.`;
    } else {
      advice = `Build for that machine: --target rpi4 (or rpi-zero2, rpi5) for a Raspberry Pi with 64-bit Raspberry Pi OS, then flash again with that --target.`;
    }
    throw new UserError(`${dest.host} is ${found} (uname -m), but the ${target} program is for ${expected}. ${advice}`);
  }
  if (target === 'rpi5' && !facts.dotProduct) {
    throw new UserError(
      `${dest.host}'s CPU lacks the dot product instructions (no asimddp in /proc/cpuinfo) that the rpi5 program uses: it is not a Pi 5. ` +
        'Build for the board it is: llama2-embed build --target rpi4 (a Pi 4 or Pi 3) or --target rpi-zero2, then flash with that --target.',
    );
  }
}

/** Refuses a copy that would not fit on the file system the program goes to. */
export function checkSpace(dest: SshDestination, remoteDir: string, bytes: number, facts: RemoteFacts): void {
  if (facts.availableBytes === undefined || facts.availableBytes >= bytes) return;
  throw new UserError(
    `not enough space on ${dest.host} for ${displayRemote(dest.host, remoteDir)}: the program needs ${formatBytes(bytes)}, ` +
      `the file system${facts.mountPoint ? ` mounted on ${facts.mountPoint}` : ''} has ${formatBytes(facts.availableBytes)} free (df -Pk ${facts.existingDir}). ` +
      'Free some space there (sudo apt clean, old files), or give --path a directory on another file system.',
  );
}

/** `~/dir` or `dir` (relative to home) as the absolute path on the Pi, for a systemd unit. */
export function absoluteRemoteDir(remoteDir: string, facts: RemoteFacts): string {
  const trimmed = remoteDir.length > 1 ? remoteDir.replace(/\/+$/, '') : remoteDir;
  if (trimmed.startsWith('/')) return trimmed;
  if (trimmed === '~') return facts.home;
  const rest = trimmed.startsWith('~/') ? trimmed.slice(2) : trimmed;
  return `${facts.home.replace(/\/+$/, '')}/${rest}`;
}
