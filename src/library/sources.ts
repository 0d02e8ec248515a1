/**
 * The library's C sources for one model: the public header (templates/library/llama2_embed.h,
 * the same for every model), the API over the forward pass (llama2_embed.c, written by
 * src/codegen/api-sources.ts, as for llama2-embed's own programs), and the sources a
 * build generates (forward.c, forward_parallel.c, their kernels.h and kernels_parallel.h, model.h) or shares with llama2-embed's programs
 * (tokenizer.c, parallel.c), each made to include l2e_private.h first so that its external names
 * carry the l2e_ prefix. The weights and the tokenizer are C arrays (weights.c, tokenizer_image.c).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../checkpoint/model.js';
import { emitApiSources, type ApiSummary, type SourceLayout } from '../codegen/api-sources.js';
import { emitForwardFiles } from '../codegen/forward-files.js';
import { emitModelHeader } from '../codegen/model-header.js';
import { weightsBlob } from '../codegen/weights-blob.js';
import { projectRoot } from '../util/project-root.js';
import type { Plan } from '../plan/plan.js';
import { toFixedPoint } from '../quant/fixed-point.js';
import { writeFileAtomic } from '../util/atomic.js';
import { cByteArray, fnv1a32 } from '../codegen/c-array.js';

export interface LibraryInputs {
  plan: Plan;
  model: Model;
  modelName: string;
  tokenizerImage: Buffer;
  /** The comment every generated file starts with, given what the file is. */
  generated: (what: string) => string;
}

/** The library's C files, in the order a build lists them. */
export const LIBRARY_SOURCES = [
  'llama2_embed.c',
  'forward.c',
  'forward_parallel.c',
  'tokenizer.c',
  'parallel.c',
  'weights.c',
  'tokenizer_image.c',
] as const;

/**
 * The state of llama2_embed.c itself, for the plan: the prompt's tokens (SEQ_LEN + 4) and the
 * sampler's order (VOCAB_SIZE), 4 bytes each.
 */
export function apiState(seqLen: number, vocabSize: number): { name: string; bytes: number; description: string }[] {
  return [{ name: 'api', bytes: 4 * (seqLen + 4) + 4 * vocabSize, description: "llama2_embed.c's prompt tokens and sampler order" }];
}

/** What the exported library holds, for the package files and the command's summary. */
export interface LibrarySummary extends ApiSummary {
  weightsBytes: number;
  stateBytes: number;
}

const PRIVATE_INCLUDE = '#include "l2e_private.h" /* the l2e_ prefix on this file\'s external names */\n';

function write(path: string, text: string): void {
  writeFileAtomic(path, [Buffer.from(text, 'utf8')]);
}

function template(...parts: string[]): string {
  return readFileSync(join(projectRoot(), 'templates', ...parts), 'utf8');
}

/** A C file of llama2-embed's programs, made a library source: l2e_private.h first. */
function asLibrarySource(text: string, origin: string): string {
  return `/* From llama2-embed's ${origin}. */\n${PRIVATE_INCLUDE}\n${text}`;
}

/**
 * Writes the library's sources for this plan and model into `layout` (public header in
 * includeDir, the rest in srcDir): forward.c and kernels.h generated, model.h, the weights and
 * tokenizer as C arrays, the runtime from templates/. Returns the sizes and hash export reports.
 */
export function emitLibrarySources(layout: SourceLayout, inputs: LibraryInputs): LibrarySummary {
  const { plan, model, generated } = inputs;
  const { includeDir, srcDir } = layout;
  mkdirSync(includeDir, { recursive: true });
  mkdirSync(srcDir, { recursive: true });

  const fixed = plan.arithmetic === 'integer' ? toFixedPoint(model) : undefined;
  const { files, functions } = emitForwardFiles(plan, fixed, generated);
  // forward_parallel.c's functions that forward.c calls have external names too: as l2e_private.h's, prefixed
  const prefixed = functions.map((name) => `#define ${name} l2e_internal_${name}\n`).join('');
  for (const file of ['forward.c', 'forward_parallel.c'] as const) write(join(srcDir, file), `${PRIVATE_INCLUDE}${prefixed}${files[file]}`);
  for (const file of ['kernels.h', 'kernels_parallel.h'] as const) write(join(srcDir, file), files[file]);

  const weights = Buffer.concat([...weightsBlob(plan, model, fixed)]);
  const modelHash = createHash('sha256').update(weights).digest().subarray(0, 8);
  write(
    join(srcDir, 'model.h'),
    emitModelHeader(
      plan,
      {
        modelName: inputs.modelName,
        tokenizerBytes: inputs.tokenizerImage.length,
        tokenizerMaxTokenLength: inputs.tokenizerImage.readInt32LE(0),
        defaultThreads: 1,
        modelHash,
      },
      generated("The model's shapes and memory plan."),
    ),
  );
  const quant = plan.weights + (plan.arithmetic === 'integer' ? ' integer' : '');
  const summary: LibrarySummary = {
    weightsBytes: weights.length,
    stateBytes: plan.stateBytes, // the plan counts the tokenizer's tables and the API's buffers (apiState)
    modelHash: modelHash.toString('hex'),
    quant,
  };
  emitApiSources(layout, { generated, summary, weightsFnv1a: fnv1a32(weights), blobs: 'arrays' });
  writeFileAtomic(join(srcDir, 'weights.c'), [
    Buffer.from(
      `${generated('The weights blob: every tensor at the offsets of model.h.')}\n${PRIVATE_INCLUDE}#include "blobs.h"\n#include "model.h"\n\n`,
    ),
    Buffer.from(
      "const unsigned long model_weights_bytes = WEIGHTS_BYTES;\n\n/* aligned for the widest read of the kernels (a cache line); one byte more for the string's NUL */\n",
    ),
    ...cByteArray('_Alignas(64) const unsigned char model_weights[WEIGHTS_BYTES + 1]', weights),
  ]);
  writeFileAtomic(join(srcDir, 'tokenizer_image.c'), [
    Buffer.from(`${generated("The tokenizer (llama2.c's tokenizer.bin).")}\n${PRIVATE_INCLUDE}#include "blobs.h"\n\n`),
    Buffer.from(`const unsigned long tokenizer_image_bytes = ${inputs.tokenizerImage.length};\n\n`),
    Buffer.from("/* one byte more than the image, for the string's NUL */\n"),
    ...cByteArray(`_Alignas(4) const unsigned char tokenizer_image[${inputs.tokenizerImage.length + 1}]`, inputs.tokenizerImage),
  ]);

  for (const header of ['forward.h', 'parallel.h', 'tokenizer.h']) write(join(srcDir, header), template('common', header));
  write(join(srcDir, 'tokenizer.c'), asLibrarySource(template('common', 'tokenizer.c'), 'templates/common/tokenizer.c'));
  write(
    join(srcDir, 'parallel.c'),
    asLibrarySource(template('common', 'parallel-none.c'), 'templates/common/parallel-none.c (one thread)'),
  );
  return summary;
}
