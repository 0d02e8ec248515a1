/**
 * `llama2-embed flash --target rpi4 --host pi@raspberrypi.local`: puts a built program on a Pi
 * (or any Linux machine) over SSH, with the user's own OpenSSH client (ssh-client.ts).
 *
 *   1. the build: build/<target>/ (or the one given) must hold a finished build for the target;
 *   2. the Pi: Linux, the program's architecture (uname -m), the CPU (a Pi 5 build needs dot
 *      product), the free space where it goes (df -Pk);
 *   3. the copy, with a progress bar: into a temporary name beside the program, then checked
 *      (size and SHA-256 as the Pi reads them back);
 *   4. into place: the temporary names renamed over the program and its build-info.json, so
 *      that the Pi never holds half a program, even if the copy is cut off;
 *   5. with --serial DEVICE: the systemd service that serves the protocol on that device.
 *
 * The program is the whole deployment: static (the Pi targets), weights and tokenizer linked in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { formatBytes, Progress } from '../util/progress.js';
import { BUILD_INFO_FILE } from '../pico/firmware-file.js';
import { checkBuildFiles } from '../toolchain/build-info.js';
import { checkDestination, runRemote, runRemoteOk, type SshDestination } from './ssh-client.js';
import { checkSerialDevice, gadgetService, installGadgetService } from './ssh-gadget-service.js';
import {
  absoluteRemoteDir,
  checkArchitecture,
  checkSpace,
  probeRemote,
  programMachine,
  PROGRAM_NAME,
  type RemoteFacts,
} from './ssh-probe.js';
import { displayRemote, remotePath, shellQuote } from './ssh-shell.js';

/** Where the program goes on the Pi unless --path says otherwise. */
export const DEFAULT_REMOTE_DIR = '~/llama2-embed';

export interface SshDeployRequest {
  /** The build directory (or the program in it). */
  build: string;
  target: string;
  dest: SshDestination;
  /** The directory on the Pi (default ~/llama2-embed). */
  remoteDir?: string;
  /** --serial: the device on the Pi to serve the protocol on, as a service. */
  serial?: string;
  report: (line: string) => void;
  /** No progress bar (tests). */
  quiet?: boolean;
  /** Where --serial's unit goes (default /etc/systemd/system; tests install elsewhere). */
  systemdDir?: string;
}

export interface LocalProgram {
  dir: string;
  program: string;
  /** The build's build-info.json, as text. */
  buildInfo: string;
  /** What build-info.json says: the model's file name. */
  model: string;
  /** The architecture the program is for, in uname -m's words. */
  machine: string;
  bytes: number;
}

/** The finished build for `target` in `path` (a build directory, or the program in one). */
export function locateProgram(path: string, target: string): LocalProgram {
  const full = resolve(path);
  const hint = `Build it first: llama2-embed build --target ${target}${path === resolve('build', target) ? '' : ` -o ${path}`}.`;
  if (!existsSync(full)) throw new UserError(`no build for ${target} in ${path}. ${hint}`);
  const dir = statSync(full).isDirectory() ? full : resolve(full, '..');
  const infoPath = join(dir, BUILD_INFO_FILE);
  if (!existsSync(infoPath)) throw new UserError(`no finished build in ${dir} (no ${BUILD_INFO_FILE}). ${hint}`);
  const buildInfo = readFileSync(infoPath, 'utf8');
  let info: { target?: string; model?: string };
  try {
    info = JSON.parse(buildInfo) as typeof info;
  } catch {
    throw new UserError(`${infoPath} is not valid JSON: build again (llama2-embed build --target ${target}).`);
  }
  if (info.target !== target) {
    throw new UserError(
      `the build in ${dir} is for target "${info.target}" (its ${BUILD_INFO_FILE} says so), not "${target}". ` +
        `Build for the board (llama2-embed build --target ${target}), or give --target ${info.target} if that is the machine you have.`,
    );
  }
  const program = join(dir, PROGRAM_NAME);
  checkBuildFiles(dir, target); // never copy a program that its build-info.json does not describe
  if (!existsSync(program))
    throw new UserError(
      `${dir} has no program (${PROGRAM_NAME}), only the C project: compile it first: llama2-embed build --target ${target}.`,
    );
  const machine = programMachine(program);
  if (!machine)
    throw new UserError(`${program} is not a Linux program (no ELF header): build again (llama2-embed build --target ${target}).`);
  return { dir, program, buildInfo, model: basename(info.model ?? 'the model'), machine, bytes: statSync(program).size };
}

export interface Deployed {
  facts: RemoteFacts;
  /** The program on the Pi, as shown to the user (pi@host:~/llama2-embed/llama2). */
  remoteProgram: string;
}

/**
 * Steps 1-5 above, each reported as [n/N]; resolves with what the Pi is and where the program now is.
 * Throws a UserError for a missing or wrong build, an unsuitable Pi, an ssh failure, or a copy that fails
 * or does not read back as sent (its temporary file is then removed, the old program left as it was).
 */
export async function deployOverSsh(request: SshDeployRequest): Promise<Deployed> {
  const { dest, report, target } = request;
  const remoteDir = request.remoteDir ?? DEFAULT_REMOTE_DIR;
  checkDestination(dest);
  if (request.serial !== undefined) checkSerialDevice(request.serial);
  const steps = request.serial === undefined ? 4 : 5;

  report(`[1/${steps}] the build: ${request.build}`);
  const local = locateProgram(request.build, target);
  report(`      ${local.program}: ${local.machine} program, ${formatBytes(local.bytes)} (${local.model})`);

  report(`[2/${steps}] connecting to ${dest.host}`);
  const facts = await probeRemote(dest, remoteDir, request.serial === undefined ? [] : [request.serial]);
  report(
    `      ${facts.os} ${facts.machine}${facts.dotProduct ? ' with dot product' : ''}, user ${facts.user}; ` +
      `${facts.availableBytes === undefined ? 'free space unknown (no df)' : `${formatBytes(facts.availableBytes)} free`} for ${remoteDir}`,
  );
  checkArchitecture(dest, target, local.machine, facts);
  const bytes = local.bytes + Buffer.byteLength(local.buildInfo);
  checkSpace(dest, remoteDir, bytes, facts);

  const remoteProgram = displayRemote(dest.host, remoteDir, PROGRAM_NAME);
  const suffix = `.upload-${randomBytes(4).toString('hex')}`;
  const tmpProgram = `.${PROGRAM_NAME}${suffix}`;
  const tmpInfo = `.${BUILD_INFO_FILE}${suffix}`;
  const dir = remotePath(remoteDir);
  report(`[3/${steps}] copying ${PROGRAM_NAME} (${formatBytes(local.bytes)}) to ${remoteProgram}`);
  const progress = new Progress(`      copying`, local.bytes, { unit: 'bytes', quiet: request.quiet });
  const localHash = createHash('sha256');
  const input = createReadStream(local.program);
  input.on('data', (chunk) => localHash.update(chunk));
  const upload = [
    'set -e',
    `mkdir -p -- ${dir}`,
    `t=${dir}/${shellQuote(tmpProgram)}`,
    'trap \'rm -f -- "$t"\' HUP INT TERM',
    'cat > "$t"',
    'chmod 755 "$t"',
    'echo "size=$(wc -c < "$t")"',
    'if command -v sha256sum >/dev/null 2>&1; then echo "sha256=$(sha256sum < "$t" | cut -c1-64)"; fi',
  ].join('\n');
  const copied = await runRemote(dest, upload, { input, onSent: (n) => progress.update(n) }).catch(async (err: unknown) => {
    await removeQuietly(dest, `${dir}/${shellQuote(tmpProgram)}`);
    throw err;
  });
  if (copied.code !== 0) {
    await removeQuietly(dest, `${dir}/${shellQuote(tmpProgram)}`);
    const said = copied.stderr.trim().split('\n').slice(-3).join('\n  ');
    throw new UserError(`copying to ${remoteProgram} failed (exit status ${copied.code})${said ? `:\n  ${said}` : ''}`);
  }
  const size = /size=\s*(\d+)/.exec(copied.stdout)?.[1];
  const sha = /sha256=([0-9a-f]{64})/.exec(copied.stdout)?.[1];
  const expectedSha = localHash.digest('hex');
  if (Number(size) !== local.bytes || (sha !== undefined && sha !== expectedSha)) {
    await removeQuietly(dest, `${dir}/${shellQuote(tmpProgram)}`);
    throw new UserError(
      `the copy on ${dest.host} is not the program: ${size ?? '?'} bytes${sha ? `, SHA-256 ${sha.slice(0, 16)}…` : ''} arrived, ` +
        `${local.bytes} bytes, SHA-256 ${expectedSha.slice(0, 16)}… were sent. The connection may have been cut: flash again.`,
    );
  }
  progress.done(`${formatBytes(local.bytes)}, ${sha ? 'SHA-256 checked' : 'size checked (no sha256sum on the Pi)'}`);

  report(`[4/${steps}] putting it in place`);
  const commit = [
    'set -e',
    `cd -- ${dir}`,
    `cat > ${shellQuote(tmpInfo)}`,
    `mv -f -- ${shellQuote(tmpInfo)} ${BUILD_INFO_FILE}`,
    `mv -f -- ${shellQuote(tmpProgram)} ${PROGRAM_NAME}`,
  ].join('\n');
  await runRemoteOk(dest, commit, `putting ${remoteProgram} in place`, { input: local.buildInfo });
  report(`      ${remoteProgram} (${target}, ${local.model})`);

  if (request.serial !== undefined) {
    report(`[5/${steps}] the service that serves the protocol on ${request.serial}`);
    const service = gadgetService({
      device: request.serial,
      programDir: absoluteRemoteDir(remoteDir, facts),
      user: facts.user,
      target,
      model: local.model,
    });
    await installGadgetService(dest, remoteDir, service, report, request.systemdDir);
  }
  return { facts, remoteProgram };
}

async function removeQuietly(dest: SshDestination, file: string): Promise<void> {
  await runRemote(dest, `rm -f -- ${file}`).catch(() => {});
}
