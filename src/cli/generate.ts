/**
 * `llama2-embed generate`: text from a llama2.c model with the reference engine (llama2.c's `run`).
 * Same flags and defaults as run.c: -i prompt, -n 256 steps, -t 1.0, -p 0.9, -s time.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { generate, nonFiniteLogitsNotice, promptCutNotice, BOS } from '../engine/generate.js';
import { hugeWeightWarning } from '../quant/weight-range.js';
import { loadForGeneration } from '../engine/load.js';
import { QUANT_SCHEMES, type QuantScheme } from '../quant/schemes.js';
import { Sampler } from '../engine/sampler.js';
import { Transformer } from '../engine/transformer.js';
import { checkKvWindow, parseKvWindow } from '../engine/kv-window.js';
import { StreamingDecoder } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { summaryEventLine, tokenEventLine, type EndReason } from '../util/generation-events.js';
import { OutputSink } from './output.js';

export const OUTPUT_FORMATS = ['text', 'ids', 'jsonl'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

interface GenerateArgs {
  verbose: boolean;
  model?: string;
  tokenizer?: string;
  prompt: string;
  steps: number;
  temperature: number;
  topp: number;
  seed?: string;
  quant?: QuantScheme;
  groupSize?: number;
  kvWindow?: string;
  format: OutputFormat;
}

/** The sampling flags shared by every command that generates (generate, run, monitor). */
export function withGenerationOptions<T>(y: Argv<T>) {
  return y
    .option('prompt', { alias: 'i', type: 'string', default: '', describe: 'prompt text' })
    .option('steps', { alias: 'n', type: 'number', default: 256, describe: 'forward passes, prompt included (0 = the whole context)' })
    .option('temperature', { alias: 't', type: 'number', default: 1.0, describe: '0 = greedy (argmax)' })
    .option('topp', { alias: 'p', type: 'number', default: 0.9, describe: 'top-p (nucleus) sampling threshold, in [0, 1]' })
    .option('seed', { alias: 's', type: 'string', describe: 'random seed, a positive integer (default: the current time)' });
}

export interface SamplingChoice {
  steps: number;
  temperature: number;
  topp: number;
  seed: bigint;
}

/** Checks the sampling flags; a bad value is a usage error that says what is allowed. */
export function parseSampling(args: { steps: number; temperature: number; topp: number; seed?: string }): SamplingChoice {
  if (!Number.isInteger(args.steps) || args.steps < 0)
    throw new UserError(`--steps (-n) must be a whole number ≥ 0, got ${args.steps}.`, 2);
  if (!Number.isFinite(args.temperature) || args.temperature < 0) {
    throw new UserError(`--temperature (-t) must be a number ≥ 0 (0 = greedy), got ${args.temperature}.`, 2);
  }
  if (!Number.isFinite(args.topp) || args.topp < 0 || args.topp > 1) {
    throw new UserError(`--topp (-p) must be a number between 0 and 1, got ${args.topp}.`, 2);
  }
  let seed: bigint;
  if (args.seed === undefined) {
    seed = BigInt(Math.floor(Date.now() / 1000)); // run.c: time(NULL)
  } else if (/^\d+$/.test(args.seed.trim()) && BigInt(args.seed.trim()) > 0n && BigInt(args.seed.trim()) < 2n ** 64n) {
    seed = BigInt(args.seed.trim());
  } else {
    throw new UserError(`--seed (-s) must be a whole number between 1 and 2^64 - 1, got "${args.seed}".`, 2);
  }
  return { steps: args.steps, temperature: args.temperature, topp: args.topp, seed };
}

export const generateCommand: CommandModule<object, GenerateArgs> = {
  command: 'generate',
  describe: 'generate text on this machine with the reference engine (like llama2.c run)',
  builder: (y) =>
    withGenerationOptions(y)
      .option('model', {
        alias: 'm',
        type: 'string',
        describe: 'checkpoint (.bin), a path or a name found by the model lookup',
        default: undefined,
      })
      .option('tokenizer', { alias: 'z', type: 'string', describe: 'tokenizer.bin (default: the one that goes with the model)' })
      .option('quant', {
        alias: 'weights',
        choices: QUANT_SCHEMES,
        describe: "weights precision (default: the checkpoint's own); --weights: its old name",
      })
      .option('group-size', { type: 'number', describe: 'group size of quantized weights (default: chosen for the model)' })
      .option('kv-window', {
        type: 'string',
        describe:
          'SINKS+WINDOW (e.g. 4+60): a bounded KV cache of the first SINKS positions and the latest WINDOW (StreamingLLM); exact up to SINKS+WINDOW positions, an approximation after (doc/kv-window.md)',
      })
      .option('format', { choices: OUTPUT_FORMATS, default: 'text' as OutputFormat, describe: 'text, token ids (P/G lines) or JSON lines' })
      .option('verbose', {
        alias: 'v',
        type: 'boolean',
        default: false,
        describe: 'also say how the group size of quantized weights was chosen',
      })
      .example('$0 generate -i "Once upon a time" -t 0', 'greedy story from stories260K')
      .example('$0 generate -m stories260K.bin --quant q8_0 --format ids', 'int8 weights, token ids')
      .example('$0 generate -n 0 -t 0 --kv-window 4+60', 'the whole context with a cache of 64 positions') as unknown as Argv<GenerateArgs>,
  handler: (args: ArgumentsCamelCase<GenerateArgs>) => runGenerate(args),
};

function runGenerate(args: GenerateArgs): void {
  const sampling = parseSampling(args);
  const kvWindow = args.kvWindow === undefined ? undefined : parseKvWindow(args.kvWindow);
  const loaded = loadForGeneration({ model: args.model, tokenizer: args.tokenizer, weights: args.quant, groupSize: args.groupSize });
  const { model, tokenizer } = loaded;
  if (kvWindow) checkKvWindow(kvWindow, model.config.seqLen, `${loaded.modelPath}'s context (seq_len)`);
  if (loaded.groupSizeChoice && args.format === 'text' && args.verbose) {
    process.stderr.write(`${loaded.weights} group size ${loaded.groupSize}: ${loaded.groupSizeChoice.reason}\n`);
  }
  const huge = hugeWeightWarning(loaded.modelPath, model);
  if (huge) process.stderr.write(`warning: ${huge}\n`);
  const transformer = new Transformer(model, model.config.seqLen, kvWindow);
  const sampler = new Sampler(model.config.vocabSize, sampling);
  const promptTokens = tokenizer.encode(args.prompt, true, false);
  const cut = promptCutNotice(promptTokens.length, sampling.steps, model.config.seqLen);
  if (cut) process.stderr.write(`warning: ${cut}\n`);
  const out = new OutputSink(process.stdout);
  const decoder = new StreamingDecoder(tokenizer);

  if (args.format === 'ids') for (const id of promptTokens) out.write(`P ${id}\n`);

  let started = 0;
  let timed = 0;
  let logitsWarned = false;
  // JSON lines (doc/events.md): one event per position, BOS at 0 included, as monitor --json writes them
  const events = { tokens: 0, generated: 0, reason: 'steps' as EndReason, text: '' };
  if (args.format === 'jsonl') out.write(tokenEventLine({ position: 0, token: promptTokens[0], generated: false, text: '' }));
  for (const step of generate(transformer, sampler, promptTokens, sampling.steps)) {
    const notFinite = logitsWarned ? undefined : nonFiniteLogitsNotice(step);
    if (notFinite) {
      process.stderr.write(`warning: ${notFinite}\n`);
      logitsWarned = true;
    }
    if (args.format === 'ids' && !step.fromPrompt) out.write(`G ${step.next}\n`);
    const text = step.next === BOS ? '' : decoder.push(step.prev, step.next);
    events.tokens++;
    if (!step.fromPrompt) events.generated++;
    events.text += text;
    if (args.format === 'jsonl') out.write(tokenEventLine({ position: step.pos + 1, token: step.next, generated: !step.fromPrompt, text }));
    if (step.next === BOS) {
      events.reason = 'bos'; // run.c prints nothing for it and stops
      break;
    }
    if (args.format === 'text') out.write(text);
    // as run.c: time from the end of the first step, so start-up is not counted
    if (started === 0) started = performance.now();
    else timed++;
  }
  const seconds = (performance.now() - started) / 1000;
  const tokensPerSecond = timed > 0 && seconds > 0 ? timed / seconds : 0;
  const rest = decoder.flush();
  if (args.format === 'text') out.write(`${rest}\n`);
  if (args.format === 'jsonl') {
    events.text += rest;
    const { tokens, generated, reason, text } = events;
    out.write(
      summaryEventLine({
        reason,
        tokens,
        generated,
        tokensPerSecond,
        text,
        loadMs: Math.round(loaded.loadMs * 10) / 10,
      }),
    );
  }
  process.stderr.write(`achieved tok/s: ${tokensPerSecond.toFixed(2)}\n`);
}
