/** model.h: the model's shapes and the memory plan as constants, for every generated C file. */
import { headSize, kvDim } from '../checkpoint/model.js';
import type { Plan } from '../plan/plan.js';
import { groupsOf } from '../plan/plan.js';
import { SAMPLER_CANDIDATES } from '../engine/forward-steps.js';
import { describeScheme } from '../quant/schemes.js';

export interface ModelHeaderInfo {
  modelName: string;
  tokenizerBytes: number;
  tokenizerMaxTokenLength: number;
  /** The tokenizer is const tables generated at build time (a firmware's, in flash), not parsed at init. */
  tokenizerTables?: boolean;
  defaultThreads: number;
  /** First 8 bytes of the SHA-256 of weights.bin: MODEL_HASH, sent in the protocol's HELLO. */
  modelHash?: Uint8Array;
}

/**
 * model.h: the model's shapes (DIM, N_LAYERS, …, SEQ_LEN as planned), its weights precision and
 * the memory plan's sizes and offsets, as #defines for the generated C.
 */
export function emitModelHeader(plan: Plan, info: ModelHeaderInfo, header: string): string {
  const c = plan.config;
  const define = (name: string, value: number | string, comment = '') =>
    `#define ${name.padEnd(32)} ${value}${comment ? ` /* ${comment} */` : ''}`;
  const lines = [
    header,
    '#ifndef LLAMA2_EMBED_MODEL_H',
    '#define LLAMA2_EMBED_MODEL_H',
    '',
    '/* the transformer */',
    define('DIM', c.dim, 'transformer dimension'),
    define('HIDDEN_DIM', c.hiddenDim, 'for ffn layers'),
    define('N_LAYERS', c.nLayers, 'number of layers'),
    define('N_HEADS', c.nHeads, 'number of query heads'),
    define('N_KV_HEADS', c.nKvHeads, 'number of key/value heads (can be < query heads because of multiquery)'),
    define('VOCAB_SIZE', c.vocabSize, 'vocabulary size'),
    define('SEQ_LEN', plan.seqLen, `max sequence length${plan.seqLen < c.seqLen ? ` (the model allows ${c.seqLen})` : ''}`),
    define('HEAD_SIZE', headSize(c)),
    define('KV_DIM', kvDim(c)),
    define('KV_MUL', c.nHeads / c.nKvHeads, 'query heads per key/value head'),
    '',
    '/* weights precision */',
    define('QUANT_SCHEME', JSON.stringify(plan.weights), describeScheme(plan.weights)),
    define(
      'ARITHMETIC',
      JSON.stringify(plan.arithmetic),
      plan.arithmetic === 'integer' ? 'Q16.16 activations, int8 KV cache, fixed-point scales' : 'float32, as llama2.c',
    ),
    define(
      'SAMPLER_ORDER_SIZE',
      plan.classifier === 'blocks' ? SAMPLER_CANDIDATES : c.vocabSize,
      plan.classifier === 'blocks' ? "the top-p sampler's candidates (the classifier in row blocks)" : "the top-p sampler's candidates",
    ),
    ...(plan.classifier === 'blocks'
      ? [define('SAMPLER_CANDIDATES', SAMPLER_CANDIDATES, 'the largest logits kept for top-p: the nucleus is capped at this many tokens')]
      : []),
  ];
  if (plan.kvWindow) {
    // the bounded KV cache (--kv-window, src/engine/kv-window.ts): forward.c's kv_row and kv_last
    lines.push(
      '',
      '/* the bounded KV cache: an approximation once a text is longer than KV_ROWS positions */',
      define('KV_SINKS', plan.kvWindow.sinks, 'first positions kept (attention sinks)'),
      define('KV_WINDOW', plan.kvWindow.window, 'latest positions kept, in a ring'),
      define('KV_ROWS', plan.cacheRows, 'rows of the KV cache per layer: KV_SINKS + KV_WINDOW'),
    );
  }
  if (plan.weights !== 'f32') {
    const gs = plan.groupSize!;
    lines.push(
      define('GROUP_SIZE', gs, "values per scale; a row's last group may be shorter"),
      define('GROUPS_DIM', groupsOf(c.dim, gs), 'groups in a row of DIM values'),
      define('GROUPS_HIDDEN_DIM', groupsOf(c.hiddenDim, gs), 'groups in a row of HIDDEN_DIM values'),
    );
  }
  lines.push('', '/* the memory plan: offsets into the weights blob, and the totals */');
  for (const b of plan.buffers.filter((x) => x.role === 'weights')) {
    lines.push(define(`OFFSET_${b.name.toUpperCase()}`, `0x${b.offset.toString(16)}`, `${b.bytes} bytes: ${b.description}`));
  }
  lines.push(
    define('WEIGHTS_BYTES', plan.weightsBytes),
    define('STATE_BYTES', plan.stateBytes, 'RunState'),
    '',
    '/* the program */',
    define('TOKENIZER_BYTES', info.tokenizerBytes),
    define('TOKENIZER_MAX_TOKEN_LENGTH', info.tokenizerMaxTokenLength),
    define(
      'TOKENIZER_TABLES',
      info.tokenizerTables ? 1 : 0,
      info.tokenizerTables ? 'const tables in flash (tokenizer_tables.c), nothing parsed at init' : 'tokenizer.bin parsed at init',
    ),
    define('DEFAULT_THREADS', info.defaultThreads),
    define('MODEL_NAME', JSON.stringify(info.modelName)),
    define('TARGET_NAME', JSON.stringify(plan.target), "the target built for: the protocol's HELLO says it"),
  );
  if (info.modelHash) {
    const bytes = Array.from(info.modelHash, (b) => `0x${b.toString(16).padStart(2, '0')}`);
    lines.push(define('MODEL_HASH', `{ ${bytes.join(', ')} }`, 'first 8 bytes of the SHA-256 of weights.bin'));
  }
  lines.push('', '#endif', '');
  return lines.join('\n');
}
