/**
 * `llama2-embed report` on a model with stories15M's shapes (random weights made here; the real
 * stories15M is not needed): the command as a user runs it, with its default pass sizes, against
 * the same command with the greedy pass it used to run whatever the options said (4 prompts ×
 * 256 tokens, now `--greedy-tokens 256`), in fresh processes, one after the other. The defaults
 * are meant to keep this report under a minute. The load average is printed beside each figure:
 * on a shared machine other work stretches the wall-clock time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpoint } from '../src/checkpoint/write.js';
import { locateModelFile } from '../src/models/locate.js';
import { projectRoot } from '../src/util/project-root.js';
import { REPORT_DEFAULTS } from '../src/report/compare.js';
import { randomModel, STORIES15M } from '../test/helpers/random-model.js';

/** Wall-clock seconds of one `report` run with `args` (quiet), from start to exit. */
function timeReport(checkpoint: string, tokenizer: string, args: string[]): number {
  const bin = join(projectRoot(), 'bin', 'llama2-embed.js');
  const start = performance.now();
  const r = spawnSync(process.execPath, [bin, 'report', '-m', checkpoint, '-z', tokenizer, '-q', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`report ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  return seconds;
}

export function benchReport(): void {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-report-'));
  try {
    const checkpoint = join(dir, 'stories15M-shaped.bin');
    writeCheckpoint(checkpoint, randomModel(STORIES15M, 1), 'v1');
    const tokenizer = locateModelFile('tokenizer.bin');
    const d = REPORT_DEFAULTS;
    const runs: [string, string[]][] = [
      [`the old fixed greedy pass (--greedy-tokens 256), baseline`, ['--greedy-tokens', '256']],
      [`defaults (${d.sequences} × ${d.length} sampled, ${d.greedyTokens} greedy tokens)`, []],
    ];
    process.stdout.write(`\nreport on a stories15M-shaped model (random weights, q8_0, q4_0 and mixed against fp32; one run each)\n`);
    let baseline = 0;
    for (const [name, args] of runs) {
      const seconds = timeReport(checkpoint, tokenizer, args);
      baseline ||= seconds;
      const ratio = seconds === baseline ? 'baseline' : `${(seconds / baseline).toFixed(2)}× the time`;
      process.stdout.write(
        `  ${name.padEnd(58)} ${seconds.toFixed(1).padStart(6)} s   ${ratio.padEnd(16)}   (load average ${loadavg()[0].toFixed(1)})\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
