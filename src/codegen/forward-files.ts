/**
 * The generated C of the forward pass, one model and plan: forward.c (forward() and its state and
 * weights, ./forward.ts or ./forward-int.ts), forward_parallel.c (the thread-pool wrappers it
 * calls) and each file's kernels (kernels.h, kernels_parallel.h: one KernelSet per C file, so that
 * neither compiles a kernel it does not call).
 */
import type { Plan } from '../plan/plan.js';
import type { FixedModel } from '../quant/fixed-point.js';
import { emitForward, PARALLEL_WHAT } from './forward.js';
import { emitForwardInt } from './forward-int.js';
import { KernelSet } from './kernel-set.js';

/** The C files of the forward pass, in the order a build lists them. */
export const FORWARD_SOURCES = ['forward.c', 'forward_parallel.c'] as const;

/**
 * The generated files of the forward pass, by name, and the external names the two C files share
 * (beside forward_state and forward_weights): forward_parallel.c's functions that forward.c calls
 * (ForwardSources.functions) and the kernels both call, which forward.c defines.
 */
export interface ForwardFiles {
  files: { 'forward.c': string; 'forward_parallel.c': string; 'kernels.h': string; 'kernels_parallel.h': string };
  functions: string[];
}

/**
 * The forward pass's files for `plan`: in integer arithmetic from `fixed` (the model's fixed-point
 * weights), else in float. `generated` gives each file's first comment from what the file is;
 * `generic`: kernels not specialized (the benchmarks' baseline, KernelSet's option).
 */
export function emitForwardFiles(
  plan: Plan,
  fixed: FixedModel | undefined,
  generated: (what: string) => string,
  options: { generic?: boolean } = {},
): ForwardFiles {
  const sets = { forward: new KernelSet(undefined, options), parallel: new KernelSet(undefined, options) };
  const headers = {
    forward: generated('The forward pass of the transformer, in the manner of llama2.c run.c.'),
    parallel: generated(PARALLEL_WHAT),
  };
  const sources = fixed ? emitForwardInt(plan, fixed, sets, headers) : emitForward(plan, sets, headers);
  const kernels = (what: string) =>
    `The kernels ${what}, compiled from the TypeScript in src/kernels/ and specialized for this model's shapes.`;
  // a kernel both files call is compiled once, in forward.c (on the RP2040 both run from SRAM: one copy there)
  const shared = sets.forward.sharedWith(sets.parallel);
  return {
    files: {
      'forward.c': sources.forward,
      'forward_parallel.c': sources.parallel,
      'kernels.h': sets.forward.emit(generated(kernels('forward.c calls')), { external: shared }),
      'kernels_parallel.h': sets.parallel.emit(generated(kernels("forward_parallel.c's wrappers call, but those forward.c defines")), {
        guard: 'LLAMA2_EMBED_KERNELS_PARALLEL_H',
        declared: shared,
      }),
    },
    functions: [...sources.functions, ...[...shared].sort()],
  };
}
