/**
 * `build`: checkpoint → (quantized) model → memory plan → C project → program. Each step reports
 * its progress; a plan that does not fit stops the build before any C is written.
 */
import { checkKvWindow, type KvWindow } from '../engine/kv-window.js';
import { rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadForGeneration } from '../engine/load.js';
import { emitProject, programFiles, type ProjectInputs, type WrittenProject } from '../codegen/project.js';
import { streamRowsProblem } from '../codegen/weight-stream.js';
import { formatPlan, formatPlanSummary } from '../plan/format.js';
import {
  checkProtocolLimits,
  defaultArithmetic,
  longestFittingSeqLen,
  makePlan,
  type Arithmetic,
  type Plan,
  type PlanOptions,
} from '../plan/plan.js';
import { checkClockMHz, clockSetup, describeClock } from '../plan/rp2040-clock.js';
import { FIRMWARE_STDIO, loadTarget, withFirmwareOptions, type FirmwareStdio, type Target } from '../plan/target.js';
import type { QuantScheme } from '../quant/schemes.js';
import { UserError } from '../util/errors.js';
import { formatBytes } from '../util/progress.js';
import { comparePlanWithSections, readSectionSizes } from './sections.js';
import { checkBakedPrompt, finishFirmware, FIRMWARE_OUTPUTS, type BakedGeneration } from '../codegen/firmware.js';
import { tablesOf } from '../codegen/tokenizer-tables.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { buildFileProblems, hashFiles, readBuildInfo, writeBuildInfo, type BuildInfo } from './build-info.js';
import { checkOutputDir, makeStagingDir, replaceDir } from './output-dir.js';
import { requireTool, runMake } from './make.js';

export interface BuildRequest {
  target: string;
  model?: string;
  tokenizer?: string;
  quant?: QuantScheme;
  groupSize?: number;
  /** The kernels' arithmetic (default: the target's, for the weights chosen). */
  arithmetic?: Arithmetic;
  seqLen?: number;
  /** A bounded KV cache (--kv-window, src/engine/kv-window.ts); default the exact one. */
  kvWindow?: KvWindow;
  threads?: number;
  out?: string;
  /** Kernels not specialized for the model's shapes (a baseline for benchmarks). */
  generic?: boolean;
  /** Firmware targets: the generation baked in, run at reset (defaults: run.c's, seed 42). */
  prompt?: string;
  steps?: number;
  temperature?: number;
  topp?: number;
  seed?: bigint;
  embedTokenizer?: boolean;
  /** Firmware targets: return from main() after the baked generation instead of serving the protocol (tests). */
  exitAfterGeneration?: boolean;
  /** Firmware targets: the board's flash size in bytes, and which boot2 to link. */
  flashBytes?: number;
  boot2?: 'safe' | 'fast' | 'quad';
  /** RP2040: clk_sys in MHz (125..200; default the target's 133), src/plan/rp2040-clock.ts. */
  clockMHz?: number;
  /** RP2040: where the protocol and the printing go (default usb: the Pico's own USB port). */
  stdio?: FirmwareStdio;
  /** Firmware targets: copy weight tensors into the SRAM the state leaves (default true; PlanOptions.sramWeights). */
  sramWeights?: boolean;
  /** Firmware targets with FirmwareSpec.sramCode: run the forward pass from SRAM when it fits (default true; PlanOptions.sramCode). */
  sramCode?: boolean;
  /** RP2040, integer mode: stream the weight matrices not copied to SRAM by DMA from the XIP stream (PlanOptions.streamWeights; default off). */
  streamWeights?: boolean;
  /** --on-device: compile on the Pi itself over SSH (its gcc and make) instead of with the cross compiler here (src/pi/ssh-build.ts). */
  onDevice?: OnDeviceOptions;
}

/** Where --on-device compiles: the Pi, as flash --host reaches it. */
export interface OnDeviceOptions {
  /** user@host, a host name or address, or a Host of ~/.ssh/config. */
  host: string;
  /** The program's directory there (default ~/llama2-embed). */
  path?: string;
  sshPort?: number;
  identity?: string;
  sshOptions?: string[];
}

export interface BuildResult {
  info: BuildInfo;
  plan: Plan;
  outDir: string;
  seconds: { load: number; emit: number; compile: number };
}

/**
 * Where a build's lines go. `detail` lines (each step, the compiler's steps, the whole memory plan,
 * timings) are for --verbose; the others (what was built, where, the sizes against the board, and
 * choices made for the user such as a shortened context) are the default output.
 */
export type Reporter = (line: string, level?: ReportLevel) => void;
/** `info`: the default output; `detail`: shown with --verbose only. */
export type ReportLevel = 'info' | 'detail';

/** Where `build --target <target>` writes when not given -o: build/<target>, relative to the working directory. */
export function defaultOutDir(target: string): string {
  return resolve('build', target);
}

/** The generation options a build bakes into a firmware (an executable takes them as run-time flags). */
const BAKED_OPTIONS = ['prompt', 'steps', 'temperature', 'topp', 'seed', 'embedTokenizer', 'exitAfterGeneration'] as const;

/**
 * The options that decide what gets built (compared by `run` to decide whether to rebuild). The
 * generation options count only for a firmware, which bakes them in: a program for the host or a
 * Raspberry Pi takes them as flags, so `build` then `run` with other ones uses the same program.
 */
export function requestKey(req: BuildRequest, modelPath: string, tokenizerPath: string): Record<string, unknown> {
  const firmware = loadTarget(req.target).output === 'firmware';
  const key: Record<string, unknown> = {
    target: req.target,
    model: modelPath,
    tokenizer: tokenizerPath,
    quant: req.quant ?? null,
    groupSize: req.groupSize ?? null,
    arithmetic: req.arithmetic ?? null,
    seqLen: req.seqLen ?? null,
    ...(req.kvWindow ? { kvWindow: `${req.kvWindow.sinks}+${req.kvWindow.window}` } : {}),
    sramWeights: req.sramWeights ?? true,
    sramCode: req.sramCode ?? true,
    ...(req.streamWeights ? { streamWeights: true } : {}),
    threads: req.threads ?? null,
    generic: req.generic ?? false,
    prompt: req.prompt ?? '',
    steps: req.steps ?? 256,
    temperature: req.temperature ?? 1,
    topp: req.topp ?? 0.9,
    seed: (req.seed ?? 42n).toString(),
    embedTokenizer: req.embedTokenizer ?? false,
    exitAfterGeneration: req.exitAfterGeneration ?? false,
    flashBytes: req.flashBytes ?? null,
    boot2: req.boot2 ?? null,
    stdio: req.stdio ?? null,
    ...(req.clockMHz !== undefined ? { clockMHz: req.clockMHz } : {}),
    // only when set: a key without it stays as before, and `run` never takes a program built on a Pi for one here
    ...(req.onDevice ? { onDevice: { host: req.onDevice.host, path: req.onDevice.path ?? null } } : {}),
  };
  if (!firmware) for (const name of BAKED_OPTIONS) delete key[name];
  return key;
}

/**
 * The decisions of a build, before anything is generated: loads the target (with the firmware
 * options) and the model and tokenizer, picks the precision and arithmetic (the request's, else
 * the target's defaults that suit the checkpoint), and makes the memory plan. Returns them with
 * the load time in seconds. A request the model or target cannot meet is a UserError.
 *
 * `library` (export): the target given as data (a board), and the state the library keeps besides
 * the model's and the tokenizer's, given the context length; the context is then never shortened
 * to fit, since a library that does not fit is refused.
 */
export function planFor(
  req: BuildRequest,
  report: Reporter = () => {},
  library?: { target: Target; extraState: (seqLen: number, vocabSize: number) => NonNullable<PlanOptions['extraState']> },
) {
  const target =
    library?.target ??
    withFirmwareOptions(loadTarget(req.target), {
      flashBytes: req.flashBytes,
      boot2: req.boot2,
      clockHz: req.clockMHz === undefined ? undefined : req.clockMHz * 1e6,
    });
  const started = performance.now();
  const defaults = target.defaults ?? {};
  // the target's precision for an fp32 checkpoint (a quantized one keeps its own), Q8_0 for integer arithmetic
  const weightsForF32 = req.arithmetic === 'integer' ? 'q8_0' : defaults.quant;
  const loaded = loadForGeneration({
    model: req.model,
    tokenizer: req.tokenizer,
    weights: req.quant,
    groupSize: req.groupSize,
    weightsForF32,
  });
  const arithmetic = req.arithmetic ?? defaultArithmetic(target, loaded.model.config, loaded.weights, loaded.groupSize);
  if (req.seqLen !== undefined && (!Number.isInteger(req.seqLen) || req.seqLen < 1 || req.seqLen > loaded.model.config.seqLen)) {
    throw new UserError(`--seq-len must be a whole number from 1 to the model's ${loaded.model.config.seqLen}, got ${req.seqLen}.`, 2);
  }
  checkProtocolLimits(loaded.model.config, req.seqLen, loaded.modelPath);
  if (req.kvWindow) {
    const context = req.seqLen === undefined ? `${loaded.modelPath}'s context (seq_len)` : '--seq-len';
    checkKvWindow(req.kvWindow, req.seqLen ?? loaded.model.config.seqLen, context);
  }
  if (loaded.groupSizeChoice) report(`${loaded.weights} group size ${loaded.groupSize}: ${loaded.groupSizeChoice.reason}`, 'detail');
  const vocab = loaded.model.config.vocabSize;
  const tokenizer = tokenizerMemory(target, req, loaded.tokenizer, statSync(loaded.tokenizerPath).size, Boolean(library));
  const extraState = [...tokenizer.state, ...(library?.extraState(req.seqLen ?? loaded.model.config.seqLen, vocab) ?? [])];
  const options = {
    weights: loaded.weights,
    groupSize: loaded.groupSize,
    arithmetic,
    seqLen: req.seqLen,
    kvWindow: req.kvWindow,
    sharedClassifier: loaded.model.sharedClassifier,
    extraState,
    tables: tokenizer.tables,
    sramWeights: req.sramWeights,
    streamWeights: req.streamWeights,
    // the most threads the program runs: --threads on a microcontroller; on an operating system,
    // where the count is the program's own option, as many as the attention can use
    threads: req.threads ?? (target.threads ? loaded.model.config.nKvHeads : 1),
  };
  if (req.streamWeights && arithmetic !== 'integer') {
    throw new UserError(
      `--stream-weights streams the integer kernels' Q8_0 or Q4_0 matrices; this build's arithmetic is ${arithmetic}: add --arithmetic integer, or drop --stream-weights.`,
      2,
    );
  }
  if (req.streamWeights && loaded.weights !== 'q8_0' && loaded.weights !== 'q4_0') {
    throw new UserError(
      `--stream-weights streams Q8_0 or Q4_0 matrices, and ${loaded.modelPath}'s weights are ${loaded.weights} (a stream of mixed weights is not built): build it with --quant q8_0 or --quant q4_0, or drop --stream-weights.`,
      2,
    );
  }
  if (req.streamWeights) {
    const c = loaded.model.config;
    const problem = streamRowsProblem(Math.max(c.dim, c.hiddenDim), loaded.weights === 'q4_0', loaded.groupSize ?? c.dim);
    if (problem) throw new UserError(`--stream-weights: ${problem}; drop --stream-weights.`, 2);
  }
  let plan = makePlan(target, loaded.model.config, options);
  if (!plan.fits && req.seqLen === undefined && !library) {
    // like a board's SDK picking a heap size: shorten the context to what the memory holds, and say so
    const seqLen = longestFittingSeqLen(target, loaded.model.config, options);
    if (seqLen !== undefined) {
      report(
        `seq_len ${loaded.model.config.seqLen} does not fit ${target.name}; using --seq-len ${seqLen}, the longest that fits (set --seq-len to choose)`,
      );
      plan = makePlan(target, loaded.model.config, { ...options, seqLen });
    }
  }
  return { target, loaded, plan, options: { ...options, seqLen: plan.seqLen }, loadSeconds: (performance.now() - started) / 1000 };
}

/**
 * What the program's tokenizer takes (templates/common/tokenizer.c), as the plan counts it:
 * - a firmware with --embed-tokenizer reads const tables generated at build time in place from
 *   flash (src/codegen/tokenizer-tables.ts); its SRAM holds only encode's merge buffer and the
 *   baked prompt's tokens (main.c encodes it at reset: strlen + 3 ids while merging);
 * - a host or Raspberry Pi program, or an exported library, parses tokenizer.bin (`fileBytes`)
 *   into RAM at init: the pieces, an offset, a score and a sorted id per token, the merge buffer;
 * - a firmware without it: nothing (the host decodes).
 */
export function tokenizerMemory(
  target: Target,
  req: Pick<BuildRequest, 'embedTokenizer' | 'prompt'>,
  tokenizer: Tokenizer,
  fileBytes: number,
  library: boolean,
): { state: { name: string; bytes: number; description: string }[]; tables: { name: string; bytes: number; description: string }[] } {
  const vocab = tokenizer.vocabSize;
  const mergeBuffer = 2 * tokenizer.maxTokenLength + 4;
  if (target.output === 'firmware' && !library) {
    if (!req.embedTokenizer) return { state: [], tables: [] };
    const sizes = tablesOf(tokenizer);
    const promptIds = 4 * (Buffer.byteLength(req.prompt ?? '', 'utf8') + 3);
    return {
      state: [
        {
          name: 'tokenizer_scratch',
          bytes: mergeBuffer + promptIds,
          description: `encode's merge buffer (${mergeBuffer} bytes) and the baked prompt's ids (${promptIds} bytes)`,
        },
      ],
      tables: [
        {
          name: 'tokenizer_tables',
          bytes: sizes.total,
          description: `tokenizer (${vocab} tokens): pieces ${sizes.pieces}, offsets ${sizes.offsets}, scores ${sizes.scores}, sorted ids ${sizes.sortedIds}`,
        },
      ],
    };
  }
  // tokenizer_init's static arrays: the pieces with their NULs (fewer bytes than the file), 10 bytes a token, the merge buffer
  const parsed = fileBytes + 10 * vocab + mergeBuffer;
  return { state: [{ name: 'tokenizer', bytes: parsed, description: `tokenizer, parsed at init (${vocab} tokens)` }], tables: [] };
}

/**
 * The mistakes in a build's options that can be told before anything is loaded: the target, the
 * threads, --stdio, --on-device and the output directory. Returns the target and the output directory.
 */
export function checkBuildRequest(req: BuildRequest): { target: Target; outDir: string } {
  const target = checkBuildOptions(req);
  if (target.output === 'firmware') checkBakedPrompt(req.prompt ?? '', req.embedTokenizer ?? false);
  const outDir = resolve(req.out ?? defaultOutDir(target.name));
  checkOutputDir(outDir);
  return { target, outDir };
}

/** The part of checkBuildRequest that `plan` shares (it writes nothing): the target, --threads, --stdio, --clock, --on-device. */
export function checkBuildOptions(req: BuildRequest): Target {
  const target = loadTarget(req.target);
  if (req.threads !== undefined && (!Number.isInteger(req.threads) || req.threads < 1 || req.threads > 64)) {
    throw new UserError(`--threads must be a whole number from 1 to 64, got ${req.threads}.`, 2);
  }
  if (req.onDevice && target.output !== 'executable') {
    throw new UserError(
      `--on-device compiles a Linux program on a Raspberry Pi, and target "${req.target}" is a microcontroller's firmware: build it here, without --on-device and --host.`,
      2,
    );
  }
  if (req.stdio !== undefined && (target.firmware?.chip !== 'rp2040' || !FIRMWARE_STDIO.includes(req.stdio))) {
    throw new UserError(
      target.firmware?.chip === 'rp2040'
        ? `--stdio must be one of ${FIRMWARE_STDIO.join(', ')}, got "${req.stdio}".`
        : `--stdio applies to rp2040 builds; ${target.name} has no choice of serial port.`,
      2,
    );
  }
  if (req.clockMHz !== undefined) {
    if (target.firmware?.chip !== 'rp2040')
      throw new UserError(`--clock applies to rp2040 builds; ${target.name} runs at its own clock.`, 2);
    clockSetup(checkClockMHz(req.clockMHz), req.boot2 ?? target.firmware.boot2); // the PLL and the flash clock, before any work
  }
  if (req.streamWeights && target.firmware?.chip !== 'rp2040') {
    throw new UserError(
      `--stream-weights streams the weights from the RP2040's flash by DMA (its XIP stream FIFO); target ${target.name} has none: drop --stream-weights.`,
      2,
    );
  }
  if (req.streamWeights && req.quant !== undefined && req.quant !== 'q8_0' && req.quant !== 'q4_0') {
    throw new UserError(
      `--stream-weights streams Q8_0 or Q4_0 matrices, and --quant ${req.quant} was given (a stream of ${req.quant === 'mixed' ? 'mixed weights' : 'float32 weights'} is not built): use --quant q8_0 or --quant q4_0, or drop --stream-weights.`,
      2,
    );
  }
  if (req.streamWeights && req.arithmetic === 'float') {
    throw new UserError(
      "--stream-weights streams the integer kernels' Q8_0 or Q4_0 matrices, and --arithmetic float was given: use --arithmetic integer (the default on rp2040), or drop --stream-weights.",
      2,
    );
  }
  const firmwareCores = target.firmware ? target.cpu.cores : 1;
  if (req.threads !== undefined && req.threads > 1 && !target.threads && req.threads > firmwareCores) {
    throw new UserError(
      firmwareCores > 1
        ? `${target.name} has ${firmwareCores} cores; use --threads ${firmwareCores} or less.`
        : `target ${target.name} has no threads; drop --threads.`,
      2,
    );
  }
  return target;
}

/**
 * Builds into a staging directory beside the output directory and renames it into place once
 * complete (src/toolchain/output-dir.ts), build-info.json written last with the program's hashes:
 * a build killed at any moment leaves the old output directory as it was or the new one complete.
 */
export async function build(req: BuildRequest, report: Reporter): Promise<BuildResult> {
  const { outDir } = checkBuildRequest(req);
  report(`[1/4] loading ${req.model ?? 'the default model'}`, 'detail');
  const planned = planFor(req, report);
  const { target, loaded, loadSeconds } = planned;
  let plan = planned.plan;
  // a board's program uses all its cores unless told otherwise; the host's (cores 0: unknown) one;
  // a microcontroller's, one core unless --threads asks for its others (the RP2040's second core)
  const threads = req.threads ?? (target.threads ? Math.max(1, target.cpu.cores) : 1);
  const generation: BakedGeneration | undefined =
    target.output === 'firmware'
      ? {
          prompt: req.prompt ?? '',
          promptTokens: loaded.tokenizer.encode(req.prompt ?? '', true, false),
          steps: req.steps ?? 256,
          temperature: req.temperature ?? 1.0,
          topp: req.topp ?? 0.9,
          seed: req.seed ?? 42n,
          embedTokenizer: req.embedTokenizer ?? false,
          exitAfterGeneration: req.exitAfterGeneration ?? false,
          ...(target.firmware?.chip === 'rp2040' ? { stdio: req.stdio ?? 'usb' } : {}),
        }
      : undefined;
  if (generation && generation.promptTokens.length > plan.seqLen) {
    throw new UserError(
      `the prompt is ${generation.promptTokens.length} tokens, more than the context of ${plan.seqLen}; shorten --prompt.`,
      2,
    );
  }
  const project = (p: Plan): ProjectInputs => ({
    plan: p,
    target,
    model: loaded.model,
    modelPath: loaded.modelPath,
    tokenizerPath: loaded.tokenizerPath,
    threads,
    generic: req.generic,
    generation,
  });
  const request = requestKey(req, loaded.modelPath, loaded.tokenizerPath);
  const sramCode = sramCodeObjects(target, req);
  if (plan.fits) requireTool(target.toolchain.cc, `to build for ${target.name}`, installHint(target.toolchain.cc));
  const staging = plan.fits ? makeStagingDir(outDir) : undefined;
  let keepStaging = false;
  try {
    if (staging && sramCode.length > 0) {
      report(`[2/4] memory plan: compiling ${sramCode.join(', ')} to measure the code to run from SRAM`, 'detail');
      plan = await planWithSramCode(staging, sramCode, project(plan), planned.options, report);
    } else {
      report('[2/4] memory plan', 'detail');
    }
    report(formatPlan(plan), 'detail');
    if (!staging || !plan.fits)
      throw new UserError(`the model does not fit ${target.name}:\n${plan.problems.map((p) => `  - ${p}`).join('\n')}`);
    report(`[3/4] writing the C project to ${outDir}`, 'detail');
    const emitStarted = performance.now();
    const info = buildInfo(project(plan), emitProject(staging, project(plan), outDir), request);
    const emitSeconds = (performance.now() - emitStarted) / 1000;

    if (req.onDevice) return await buildOnDevice(req.onDevice, { info, plan, outDir, staging, target, report, loadSeconds, emitSeconds });
    report(`[4/4] compiling with ${target.toolchain.cc}`, 'detail');
    if (target.firmware?.chip === 'rp2040')
      report(`      ${describeClock(clockSetup(target.firmware.clockHz, target.firmware.boot2), target.firmware.boot2)}`, 'detail');
    const compileStarted = performance.now();
    try {
      await runMake(staging, { onStep: (line) => report(`      ${line}`, 'detail') });
    } catch (err) {
      keepStaging = err instanceof UserError; // the compiler's messages point into it; the next build removes it
      throw err;
    }
    if (target.output === 'firmware') {
      report(
        comparePlanWithSections(
          plan,
          readSectionSizes(join(staging, FIRMWARE_OUTPUTS.elf), target.toolchain.cc),
          info.executable,
          target.firmware?.ramReserveBytes ?? 0,
        ),
        'detail',
      );
      const { imageBytes } = finishFirmware(staging);
      report(
        `      ${join(outDir, FIRMWARE_OUTPUTS.uf2)} (${imageBytes.toLocaleString('en-US')} bytes of flash image, boot2 CRC checked)`,
        'detail',
      );
    }
    const compileSeconds = (performance.now() - compileStarted) / 1000;
    const finished: BuildInfo = { ...info, files: hashFiles(staging, programFiles(target)) };
    writeBuildInfo(staging, finished);
    replaceDir(staging, outDir);
    const seconds = { load: loadSeconds, emit: emitSeconds, compile: compileSeconds };
    report(builtSummary(finished.executable, plan, seconds));
    report(`load ${loadSeconds.toFixed(2)} s, emit ${emitSeconds.toFixed(2)} s, compile ${compileSeconds.toFixed(2)} s`, 'detail');
    return { info: finished, plan, outDir, seconds };
  } finally {
    if (staging && !keepStaging) rmSync(staging, { recursive: true, force: true });
  }
}

/** What build-info.json says of a project written from `inputs` (`written`: what emitProject returned), asked for by `request`, before its program's hashes. */
function buildInfo(inputs: ProjectInputs, written: WrittenProject, request: Record<string, unknown>): BuildInfo {
  const { plan } = inputs;
  return {
    tool: written.tool,
    target: inputs.target.name,
    model: inputs.modelPath,
    tokenizer: inputs.tokenizerPath,
    request,
    executable: written.executable,
    plan: {
      weights: plan.weights,
      groupSize: plan.groupSize,
      seqLen: plan.seqLen,
      weightsBytes: plan.weightsBytes,
      stateBytes: plan.stateBytes,
    },
    ...(inputs.generation?.stdio ? { stdio: inputs.generation.stdio } : {}),
  };
}

/** The default output of a finished build: what, where, and the sizes against the board. */
function builtSummary(executable: string, plan: Plan, seconds: BuildResult['seconds']): string {
  const total = seconds.load + seconds.emit + seconds.compile;
  return `built ${executable} for ${plan.target} in ${total.toFixed(1)} s\n${formatPlanSummary(plan)}`;
}

/** --on-device: the project just written, compiled on the Pi; build-info.json here and there says where the program is. */
async function buildOnDevice(
  onDevice: OnDeviceOptions,
  built: {
    info: BuildInfo;
    plan: Plan;
    outDir: string;
    staging: string;
    target: ReturnType<typeof loadTarget>;
    report: Reporter;
    loadSeconds: number;
    emitSeconds: number;
  },
): Promise<BuildResult> {
  const { outDir, staging, report, target } = built;
  const { compileOnDevice } = await import('../pi/ssh-build.js');
  const dest = { host: onDevice.host, port: onDevice.sshPort, identity: onDevice.identity, options: onDevice.sshOptions };
  report(`[4/4] compiling on ${onDevice.host}`, 'detail');
  const compileStarted = performance.now();
  const { displayRemote } = await import('../pi/ssh-shell.js');
  const { DEFAULT_REMOTE_DIR } = await import('../pi/ssh-deploy.js');
  const info: BuildInfo = { ...built.info, executable: displayRemote(onDevice.host, onDevice.path ?? DEFAULT_REMOTE_DIR, 'llama2') };
  const buildInfo = `${JSON.stringify(info, null, 2)}\n`;
  await compileOnDevice({ outDir: staging, target, dest, remoteDir: onDevice.path, buildInfo, report: (line) => report(line, 'detail') });
  const compileSeconds = (performance.now() - compileStarted) / 1000;
  writeBuildInfo(staging, info); // here too: monitor checks the Pi's model against this build's weights.bin and decodes with its tokenizer
  replaceDir(staging, outDir);
  const seconds = { load: built.loadSeconds, emit: built.emitSeconds, compile: compileSeconds };
  report(builtSummary(info.executable, built.plan, seconds));
  report(
    `load ${built.loadSeconds.toFixed(2)} s, emit ${built.emitSeconds.toFixed(2)} s, compile on the device ${compileSeconds.toFixed(2)} s`,
    'detail',
  );
  return { info, plan: built.plan, outDir, seconds };
}

/** The objects whose code a build for `target` runs from SRAM when the plan has room (none with --no-sram-code). */
export function sramCodeObjects(target: Target, req: Pick<BuildRequest, 'sramCode'>): string[] {
  return req.sramCode === false ? [] : (target.firmware?.sramCode ?? []);
}

/**
 * The plan with the code of `objects` in SRAM (FirmwareSpec.sramCode), or the plan as it was when
 * the state leaves no room for it. The code's size is known once compiled: the project is written
 * and those objects compiled with the plan as it is, then the plan is made again with that much
 * SRAM taken first (the weights' copies give way: a byte of code there saves more flash reads than
 * a byte of weights). The caller writes the project again with the plan returned.
 */
async function planWithSramCode(
  outDir: string,
  objects: string[],
  inputs: ProjectInputs,
  options: PlanOptions,
  report: Reporter,
): Promise<Plan> {
  const { plan, target } = inputs;
  emitProject(outDir, inputs);
  await runMake(outDir, { targets: objects });
  const bytes = objectCodeBytes(outDir, objects, target.toolchain.cc) + SRAM_CODE_SLACK;
  const withCode = makePlan(target, plan.config, {
    ...options,
    sramCode: { bytes, description: `code run from SRAM: ${objects.join(', ')} (measured, with ${SRAM_CODE_SLACK} bytes for veneers)` },
  });
  if (withCode.fits) return withCode;
  report(
    `      the code (${formatBytes(bytes)}) stays in flash: with it the SRAM would not hold the state (${withCode.problems.join(' ')})`,
    'detail',
  );
  return plan;
}

/**
 * Room in the SRAM code's share for what the objects' sizes do not show: the linker's long-branch
 * veneers between SRAM and flash (16 bytes each on the M0+) and the second emission's own
 * differences (the boot-time copies listed in forward_init follow the plan).
 */
const SRAM_CODE_SLACK = 512;

/** The bytes of code (.text sections, -ffunction-sections' included) in compiled objects. */
function objectCodeBytes(dir: string, objects: string[], cc: string): number {
  let total = 0;
  for (const o of objects) {
    for (const [name, s] of readSectionSizes(join(dir, o), cc)) if (name === '.text' || name.startsWith('.text.')) total += s.bytes;
  }
  return total;
}

/** How to get a target's C compiler, for the message when it is missing. */
function installHint(cc: string): string {
  const debian: Record<string, string> = {
    'arm-none-eabi-gcc': 'gcc-arm-none-eabi libnewlib-arm-none-eabi',
    'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  };
  return `apt-get install ${debian[cc] ?? 'build-essential'} (Debian/Ubuntu)`;
}

/**
 * The existing build in `outDir` if it was made from the same request and its program files are
 * the ones its build-info.json describes (hashes recorded and equal), else undefined: rebuild.
 */
export function upToDate(outDir: string, key: Record<string, unknown>): BuildInfo | undefined {
  const info = readBuildInfo(outDir);
  if (!info) return undefined;
  if (JSON.stringify(info.request) !== JSON.stringify(key)) return undefined;
  return buildFileProblems(outDir, info, true).length === 0 ? info : undefined;
}
