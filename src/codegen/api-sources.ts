/**
 * The library's API over the forward pass (templates/library: llama2_embed.h, llama2_embed.c, and
 * what they include: l2e_private.h, the generated blobs.h), which llama2-embed's own programs
 * generate through as an exported library's users do: written into a program's project by
 * ./project.ts and into a library by src/library/sources.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { projectRoot } from '../util/project-root.js';

/** Where the sources go: the public header's directory and the sources' (the same one for Arduino). */
export interface SourceLayout {
  includeDir: string;
  srcDir: string;
}

/** What l2e_model_info() reports of the weights (blobs.h). */
export interface ApiSummary {
  /** First 8 bytes of the weights' SHA-256, in hex (l2e_info.model_hash). */
  modelHash: string;
  quant: string;
}

export const PUBLIC_HEADER = 'llama2_embed.h';

function write(path: string, text: string): void {
  writeFileAtomic(path, [Buffer.from(text, 'utf8')]);
}

function template(...parts: string[]): string {
  return readFileSync(join(projectRoot(), 'templates', ...parts), 'utf8');
}

/**
 * The API over the forward pass (llama2_embed.h, llama2_embed.c and what it includes:
 * blobs.h, l2e_private.h), in an exported library or in one of llama2-embed's own programs, which
 * use it too. `blobs`: `arrays` for a library's C arrays (weights.c, tokenizer_image.c), with the
 * l2e_ prefix on every internal name; `incbin` for a program's blobs.S, its names unchanged.
 * `program`: whose l2e_private.h a program takes (templates/<program>/; default host).
 */
export function emitApiSources(
  layout: SourceLayout,
  opts: {
    generated: (what: string) => string;
    summary: ApiSummary;
    weightsFnv1a: number;
    blobs: 'arrays' | 'incbin';
    program?: 'host' | 'rp2040';
  },
): void {
  const { includeDir, srcDir } = layout;
  write(join(includeDir, PUBLIC_HEADER), template('library', PUBLIC_HEADER));
  write(join(srcDir, 'llama2_embed.c'), template('library', 'llama2_embed.c'));
  write(
    join(srcDir, 'l2e_private.h'),
    opts.blobs === 'arrays' ? template('library', 'l2e_private.h') : template(opts.program ?? 'host', 'l2e_private.h'),
  );
  write(
    join(srcDir, 'blobs.h'),
    blobsHeader(
      opts.generated('The weights and the tokenizer, and what l2e_init checks them against.'),
      opts.summary,
      opts.weightsFnv1a,
      opts.blobs,
    ),
  );
}

function blobsHeader(header: string, summary: ApiSummary, fnv: number, blobs: 'arrays' | 'incbin'): string {
  const declarations =
    blobs === 'arrays'
      ? `/* weights.c, tokenizer_image.c */
extern const unsigned char model_weights[];
extern const unsigned long model_weights_bytes;
extern const unsigned char tokenizer_image[];
extern const unsigned long tokenizer_image_bytes;`
      : `/* blobs.S: weights.bin (the plan's WEIGHTS_BYTES, which build checks) and tokenizer.bin, .incbin'd */
extern const unsigned char model_weights[];
extern const unsigned char tokenizer_image[];
extern const unsigned char tokenizer_image_end[];
#define model_weights_bytes ((unsigned long)WEIGHTS_BYTES)
#define tokenizer_image_bytes ((unsigned long)(tokenizer_image_end - tokenizer_image))`;
  return `${header}
#ifndef L2E_BLOBS_H
#define L2E_BLOBS_H

#define WEIGHTS_FNV1A 0x${fnv.toString(16).padStart(8, '0')}u /* 32-bit FNV-1a of the weights blob */
#define MODEL_HASH_HEX "${summary.modelHash}" /* first 8 bytes of its SHA-256 */
#define QUANT_NAME "${summary.quant}"

${declarations}

#endif
`;
}
