/**
 * `llama2-embed build --target rpi4 --on-device --host pi@raspberrypi.local`: the C project,
 * written here as any build writes it, compiled on the Pi itself with its own gcc and make
 * instead of a cross compiler on this computer. Over the user's own OpenSSH client (ssh-client.ts):
 *
 *   1. the Pi: Linux, the target's architecture (uname -m), dot product for rpi5, free space;
 *      gcc and make there (else: sudo apt install build-essential);
 *   2. the project, as a tar stream over ssh, into <path>/project/ (emptied first: no object file
 *      of an earlier build is reused);
 *   3. `make CC=gcc` there (the Makefile's CFLAGS, -mcpu=cortex-a72 and the rest, are as valid for
 *      the Pi's gcc as for the cross compiler), its steps shown as they happen, its messages
 *      shown when it fails;
 *   4. the program into place as <path>/llama2 with the build's build-info.json beside it, the
 *      layout `flash --host` leaves, so that `monitor --host` runs it; renamed over the old ones,
 *      so that a failed build leaves the previous program as it was.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { machine as localMachine } from 'node:os';
import { join } from 'node:path';
import type { Target } from '../plan/target.js';
import { UserError } from '../util/errors.js';
import { formatBytes, Progress } from '../util/progress.js';
import { makeStep } from '../toolchain/make.js';
import { BUILD_INFO_FILE } from '../pico/firmware-file.js';
import { checkDestination, CONNECT_TIMEOUT_SECONDS, runRemote, runRemoteOk, spawnRemote, type SshDestination } from './ssh-client.js';
import { SSH_FAILED, sshFailure, sshMissing } from './ssh-failure.js';
import { checkArchitecture, checkSpace, probeRemote, PROGRAM_NAME, type RemoteFacts } from './ssh-probe.js';
import { displayRemote, remotePath, shellQuote } from './ssh-shell.js';
import { DEFAULT_REMOTE_DIR } from './ssh-deploy.js';

/** The project's directory on the Pi, inside --path. */
export const REMOTE_PROJECT_DIR = 'project';

/** The C compiler and make used on the Pi (the Debian package build-essential has both). */
const REMOTE_CC = 'gcc';
const INSTALL_HINT = 'install build-essential on the Pi: sudo apt install build-essential';

export interface OnDeviceRequest {
  /** The local C project (emitProject's directory). */
  outDir: string;
  target: Target;
  dest: SshDestination;
  /** --path: the program's directory on the Pi (default ~/llama2-embed). */
  remoteDir?: string;
  /** build-info.json's text, put beside the program. */
  buildInfo: string;
  report: (line: string) => void;
  /** No progress bar (tests). */
  quiet?: boolean;
}

export interface OnDeviceResult {
  facts: RemoteFacts;
  /** The program on the Pi, as shown to the user (pi@host:~/llama2-embed/llama2). */
  remoteProgram: string;
}

/** The architecture a target's program is for, in uname -m's words: the cross compiler's triple, or this machine's for host. */
export function targetMachine(target: Target): string {
  const triple = /^([a-z0-9_]+)-linux-gnu-/.exec(target.toolchain.cc);
  if (triple) return triple[1];
  return localMachine();
}

/** The files of the project to send: the sources, blobs and Makefile, not what a compile made here. */
export function projectFiles(outDir: string): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  for (const name of readdirSync(outDir).sort()) {
    if (name.startsWith('.') || name.endsWith('.o') || name === PROGRAM_NAME || name === BUILD_INFO_FILE) continue;
    const stat = statSync(join(outDir, name));
    if (!stat.isFile()) continue;
    files.push(name);
    bytes += stat.size;
  }
  return { files, bytes };
}

/** The script that says which of the build's tools the Pi lacks, one `missing=NAME` a line. */
function toolsScript(): string {
  return [
    `${REMOTE_CC} --version >/dev/null 2>&1 || echo missing=${REMOTE_CC}`,
    'make --version >/dev/null 2>&1 || echo missing=make',
  ].join('\n');
}

/**
 * Steps 1-4 above for the project in `request.outDir`, each reported; resolves with what the Pi is and
 * where the program now is. Throws a UserError for a firmware target, a Pi of another architecture or
 * short of space or tools, an ssh failure, or a copy or make that fails.
 */
export async function compileOnDevice(request: OnDeviceRequest): Promise<OnDeviceResult> {
  const { dest, report, target, outDir } = request;
  const remoteDir = request.remoteDir ?? DEFAULT_REMOTE_DIR;
  checkDestination(dest);
  if (target.output !== 'executable') {
    throw new UserError(
      `--on-device compiles a Linux program on a Raspberry Pi, and target "${target.name}" is a microcontroller's firmware: build it here, without --on-device.`,
      2,
    );
  }
  const dir = remotePath(remoteDir);
  const project = `${dir}/${REMOTE_PROJECT_DIR}`;
  const remoteProgram = displayRemote(dest.host, remoteDir, PROGRAM_NAME);
  const remoteProject = displayRemote(dest.host, remoteDir, REMOTE_PROJECT_DIR);

  report(`      connecting to ${dest.host}`);
  const facts = await probeRemote(dest, remoteDir);
  report(
    `      ${facts.os} ${facts.machine}${facts.dotProduct ? ' with dot product' : ''}, user ${facts.user}; ` +
      `${facts.availableBytes === undefined ? 'free space unknown (no df)' : `${formatBytes(facts.availableBytes)} free`} for ${remoteDir}`,
  );
  checkArchitecture(dest, target.name, targetMachine(target), facts);
  const { files, bytes } = projectFiles(outDir);
  let weightsBytes = 0;
  try {
    weightsBytes = statSync(join(outDir, 'weights.bin')).size;
  } catch {
    // no weights blob: the project is incomplete, and make will say so
  }
  // the sources, then the weights twice more: in blobs.o and in the program
  checkSpace(dest, remoteDir, bytes + 2 * weightsBytes + (1 << 20), facts);
  const { stdout: toolsOut } = await runRemoteOk(dest, toolsScript(), `looking for ${REMOTE_CC} and make`);
  const missing = [...toolsOut.matchAll(/^missing=(\S+)/gm)].map((m) => m[1]);
  if (missing.length > 0) {
    throw new UserError(
      `${dest.host} has no ${missing.join(' and no ')} to compile the program with (${missing.map((m) => `${m} --version`).join(', ')} did not run there): ${INSTALL_HINT}` +
        ` (or build here with the cross compiler and copy it: llama2-embed build --target ${target.name}, then flash --target ${target.name} --host ${dest.host}).`,
    );
  }

  report(`      copying the C project (${files.length} files, ${formatBytes(bytes)}) to ${remoteProject}`);
  await sendProject(dest, outDir, files, bytes, project, remoteProject, request.quiet);

  report(`      compiling on ${dest.host} with ${REMOTE_CC}`);
  await remoteMake(dest, project, remoteProject, (line) => report(`      ${line}`));

  const suffix = `.build-${randomBytes(4).toString('hex')}`;
  const tmpProgram = `.${PROGRAM_NAME}${suffix}`;
  const tmpInfo = `.${BUILD_INFO_FILE}${suffix}`;
  const commit = [
    'set -e',
    `cd -- ${dir}`,
    `cp -- ${REMOTE_PROJECT_DIR}/${PROGRAM_NAME} ${shellQuote(tmpProgram)}`,
    `chmod 755 ${shellQuote(tmpProgram)}`,
    `cat > ${shellQuote(tmpInfo)}`,
    `mv -f -- ${shellQuote(tmpInfo)} ${BUILD_INFO_FILE}`,
    `mv -f -- ${shellQuote(tmpProgram)} ${PROGRAM_NAME}`,
  ].join('\n');
  await runRemoteOk(dest, commit, `putting ${remoteProgram} in place`, { input: request.buildInfo });
  report(`      ${remoteProgram} (${target.name}, compiled on ${dest.host})`);
  return { facts, remoteProgram };
}

/** The project's files as a tar stream (the local tar) into an emptied `project` on the Pi. */
async function sendProject(
  dest: SshDestination,
  outDir: string,
  files: string[],
  bytes: number,
  project: string,
  shown: string,
  quiet?: boolean,
): Promise<void> {
  const tar = spawn('tar', ['-cf', '-', '--', ...files], { cwd: outDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErr = '';
  tar.stderr.on('data', (d: Buffer) => (tarErr += d.toString('utf8')));
  const tarDone = new Promise<number>((resolve) => {
    tar.on('error', (e: NodeJS.ErrnoException) => {
      tarErr += e.code === 'ENOENT' ? 'tar was not found on this computer' : e.message;
      resolve(127);
    });
    tar.on('close', (code) => resolve(code ?? 1));
  });
  const total = bytes + 512 * (files.length + 2); // the tar headers and end
  const progress = new Progress('      copying', total, { unit: 'bytes', quiet });
  const unpack = ['set -e', `rm -rf -- ${project}`, `mkdir -p -- ${project}`, `tar -xf - -C ${project}`].join('\n');
  const result = await runRemote(dest, unpack, { input: tar.stdout, onSent: (n) => progress.update(n) });
  const tarCode = await tarDone;
  if (tarCode !== 0)
    throw new UserError(`packing the C project in ${outDir} failed (tar exited with ${tarCode}): ${tarErr.trim() || 'no message'}`);
  if (result.code !== 0) {
    const said = result.stderr.trim().split('\n').slice(-3).join('\n  ');
    throw new UserError(`copying the C project to ${shown} failed (exit status ${result.code})${said ? `:\n  ${said}` : ''}`);
  }
  progress.done(formatBytes(bytes));
}

/** `make CC=gcc` in the project on the Pi; each step reported as make prints it, the compiler's messages in the error when it fails. */
function remoteMake(dest: SshDestination, project: string, shown: string, onStep: (line: string) => void): Promise<void> {
  const command = `cd -- ${project} && exec make -j"$(nproc 2>/dev/null || echo 2)" CC=${REMOTE_CC} 2>&1`;
  const child = spawnRemote(dest, command);
  child.stdin.end();
  const output: string[] = [];
  let stderr = '';
  let pending = '';
  const onLine = (line: string) => {
    output.push(line);
    const step = makeStep(line);
    if (step) onStep(step);
    else if (/: (warning|error):/.test(line)) onStep(line);
  };
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-8000)));
  return new Promise((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? sshMissing(dest.command ?? 'ssh') : new UserError(`cannot run ssh: ${e.message}.`)),
    );
    child.on('close', (code, signal) => {
      if (pending) onLine(pending);
      if (code === SSH_FAILED) {
        reject(sshFailure(dest.host, stderr, { port: dest.port, connectTimeout: CONNECT_TIMEOUT_SECONDS }));
        return;
      }
      if (code === 0) {
        resolve();
        return;
      }
      const messages = output.filter((l) => !/^make(\[\d+\])?: /.test(l));
      const why = signal ? `ssh was stopped by ${signal}` : `make exited with ${code}`;
      reject(
        new UserError(
          `compiling the generated C project on ${dest.host} failed (${why}).\n` +
            `The project is in ${shown} (log in and run make there to try again); the compiler said:\n` +
            `${[...messages.slice(-40), ...(stderr.trim() ? [stderr.trim()] : [])].join('\n')}`,
        ),
      );
    });
  });
}
