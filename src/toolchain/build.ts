/**
 * `build`: checkpoint → (quantized) model → memory plan → C project → program. Each step reports
 * its progress; a plan that does not fit stops the build before any C is written.
 */
import { resolve } from 'node:path';
import { loadForGeneration, type WeightsPrecision } from '../engine/load.js';
import { emitProject, readBuildInfo, writeBuildInfo, type BuildInfo } from '../codegen/project.js';
import { formatPlan } from '../plan/format.js';
import { longestFittingSeqLen, makePlan, type Plan } from '../plan/plan.js';
import { loadTarget } from '../plan/target.js';
import { UserError } from '../util/errors.js';
import { runMake } from './make.js';

export interface BuildRequest {
  target: string;
  model?: string;
  tokenizer?: string;
  quant?: WeightsPrecision;
  groupSize?: number;
  seqLen?: number;
  threads?: number;
  out?: string;
  /** Kernels not specialized for the model's shapes (a baseline for benchmarks). */
  generic?: boolean;
}

export interface BuildResult {
  info: BuildInfo;
  plan: Plan;
  outDir: string;
  seconds: { load: number; emit: number; compile: number };
}

export type Reporter = (line: string) => void;

export function defaultOutDir(target: string): string {
  return resolve('build', target);
}

/** The options that decide what gets built (compared by `run` to decide whether to rebuild). */
export function requestKey(req: BuildRequest, modelPath: string, tokenizerPath: string): Record<string, unknown> {
  return {
    target: req.target,
    model: modelPath,
    tokenizer: tokenizerPath,
    quant: req.quant ?? null,
    groupSize: req.groupSize ?? null,
    seqLen: req.seqLen ?? null,
    threads: req.threads ?? 1,
    generic: req.generic ?? false,
  };
}

export function planFor(req: BuildRequest, report: Reporter = () => {}) {
  const target = loadTarget(req.target);
  const started = performance.now();
  const loaded = loadForGeneration({ model: req.model, tokenizer: req.tokenizer, weights: req.quant, groupSize: req.groupSize });
  if (req.seqLen !== undefined && (!Number.isInteger(req.seqLen) || req.seqLen < 1 || req.seqLen > loaded.model.config.seqLen)) {
    throw new UserError(`--seq-len must be a whole number from 1 to the model's ${loaded.model.config.seqLen}, got ${req.seqLen}.`, 2);
  }
  if (loaded.groupSizeChoice) report(`${loaded.weights} group size ${loaded.groupSize}: ${loaded.groupSizeChoice.reason}`);
  const options = { weights: loaded.weights, groupSize: loaded.groupSize, seqLen: req.seqLen, sharedClassifier: loaded.model.sharedClassifier };
  let plan = makePlan(target, loaded.model.config, options);
  if (!plan.fits && req.seqLen === undefined) {
    // like a board's SDK picking a heap size: shorten the context to what the memory holds, and say so
    const seqLen = longestFittingSeqLen(target, loaded.model.config, options);
    if (seqLen !== undefined) {
      report(`seq_len ${loaded.model.config.seqLen} does not fit ${target.name}; using --seq-len ${seqLen}, the longest that fits (set --seq-len to choose)`);
      plan = makePlan(target, loaded.model.config, { ...options, seqLen });
    }
  }
  return { target, loaded, plan, loadSeconds: (performance.now() - started) / 1000 };
}

export async function build(req: BuildRequest, report: Reporter): Promise<BuildResult> {
  const threads = req.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new UserError(`--threads must be a whole number from 1 to 64, got ${threads}.`, 2);
  report(`[1/4] loading ${req.model ?? 'the default model'}`);
  const { target, loaded, plan, loadSeconds } = planFor(req, report);
  if (threads > 1 && !target.threads) throw new UserError(`target ${target.name} has no threads; drop --threads.`, 2);
  report(`[2/4] memory plan\n${formatPlan(plan)}`);
  if (!plan.fits) throw new UserError(`the model does not fit ${target.name}:\n${plan.problems.map((p) => `  - ${p}`).join('\n')}`);

  const outDir = resolve(req.out ?? defaultOutDir(target.name));
  report(`[3/4] writing the C project to ${outDir}`);
  const emitStarted = performance.now();
  const info = emitProject(outDir, {
    plan,
    target,
    model: loaded.model,
    modelPath: loaded.modelPath,
    tokenizerPath: loaded.tokenizerPath,
    threads,
    generic: req.generic,
    request: requestKey(req, loaded.modelPath, loaded.tokenizerPath),
  });
  const emitSeconds = (performance.now() - emitStarted) / 1000;

  report(`[4/4] compiling with ${target.toolchain.cc}`);
  const compileStarted = performance.now();
  await runMake(outDir, { onStep: (line) => report(`      ${line}`) });
  const compileSeconds = (performance.now() - compileStarted) / 1000;
  writeBuildInfo(outDir, info);
  report(`built ${info.executable} (load ${loadSeconds.toFixed(2)} s, emit ${emitSeconds.toFixed(2)} s, compile ${compileSeconds.toFixed(2)} s)`);
  return { info, plan, outDir, seconds: { load: loadSeconds, emit: emitSeconds, compile: compileSeconds } };
}

/** The existing build in `outDir` if it was made from the same request, else undefined. */
export function upToDate(outDir: string, key: Record<string, unknown>): BuildInfo | undefined {
  const info = readBuildInfo(outDir);
  if (!info) return undefined;
  return JSON.stringify(info.request) === JSON.stringify(key) ? info : undefined;
}
