/** The memory plan as a terminal table: every buffer, then the totals per memory. */
import { formatTable } from '../util/table.js';
import { formatBytes } from '../util/progress.js';
import type { Plan } from './plan.js';
import { describeScheme } from '../quant/schemes.js';

/**
 * The plan in full (`plan` and `build --verbose`): a title with the model's dimensions and precision, every
 * buffer with its memory, bytes, offset and purpose, each memory's use against its size, and whether it fits.
 */
export function formatPlan(plan: Plan): string {
  const c = plan.config;
  const precision =
    (plan.weights === 'f32' ? 'fp32 weights' : `${describeScheme(plan.weights)}, group size ${plan.groupSize}`) +
    (plan.arithmetic === 'integer' ? '; integer arithmetic (Q16.16, int8 KV cache)' : '');
  const title =
    `Memory plan for ${plan.target}: dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads ` +
    `(${c.nKvHeads} KV), vocab ${c.vocabSize}, seq_len ${plan.seqLen}${boundedCache(plan)}; ${precision}`;
  // offsets count from the start of the weights blob, or of the run state
  const rows = plan.buffers.map((b) => [
    b.name,
    `${b.memory} (${b.role})`,
    b.bytes.toLocaleString('en-US'),
    `0x${b.offset.toString(16)}`,
    b.description,
  ]);
  const table = formatTable(['buffer', 'memory', 'bytes', 'offset', 'what'], rows, {
    align: ['left', 'left', 'right', 'right', 'left'],
    indent: '  ',
  });
  const totals = plan.memories
    .filter((m) => m.used > 0)
    .map((m) => {
      const capacity = m.memory.bytes;
      const room = capacity === null ? 'no fixed limit' : `of ${formatBytes(capacity)} (${((100 * m.used) / capacity).toFixed(1)}%)`;
      return `  ${m.memory.name} (${m.memory.kind}): ${formatBytes(m.used)} ${room}`;
    });
  const verdict = plan.fits ? '  fits' : plan.problems.map((p) => `  DOES NOT FIT: ${p}`).join('\n');
  return `${title}\n${table}\n${totals.join('\n')}\n${verdict}`;
}

/**
 * The plan in a few lines, for a build's default output: the precision and context, then each
 * memory the plan uses against what the target has. `formatPlan` has every buffer.
 */
export function formatPlanSummary(plan: Plan): string {
  const precision =
    (plan.weights === 'f32' ? 'fp32 weights' : `${describeScheme(plan.weights)} group size ${plan.groupSize}`) +
    (plan.arithmetic === 'integer' ? ', integer arithmetic' : '');
  const uses = plan.memories
    .filter((m) => m.used > 0)
    .map((m) => {
      const capacity = m.memory.bytes;
      return `${m.memory.name} ${formatBytes(m.used)}${capacity === null ? '' : ` of ${formatBytes(capacity)} (${((100 * m.used) / capacity).toFixed(0)}%)`}`;
    });
  return `  ${precision}, seq_len ${plan.seqLen}${boundedCache(plan)}; ${uses.join(', ')}`;
}

/** ", KV cache bounded to 4+60 positions (approximate past 64)" for a plan with --kv-window, else "". */
function boundedCache(plan: Plan): string {
  if (!plan.kvWindow) return '';
  const { sinks, window } = plan.kvWindow;
  return `, KV cache bounded to ${sinks}+${window} positions (approximate past ${plan.cacheRows})`;
}
