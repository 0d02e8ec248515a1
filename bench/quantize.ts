/**
 * Quantizing a checkpoint with stories110M's shapes (random weights made here, 440 MB of fp32):
 * time and peak memory of `quantize`, each in a fresh process, against reading and validating the
 * same file (the least any quantizer must do).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCheckpoint } from '../src/checkpoint/write.js';
import { formatBytes } from '../src/util/progress.js';
import { randomModel, STORIES110M } from '../test/helpers/random-model.js';

interface Sample {
  seconds: number;
  maxRssBytes: number;
}

function child(args: string[]): Sample {
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'quantize-child.js');
  return JSON.parse(execFileSync(process.execPath, ['--max-old-space-size=8192', script, ...args], { encoding: 'utf8' })) as Sample;
}

export function benchQuantize(): void {
  const dir = mkdtempSync(join(tmpdir(), 'llama2-embed-bench-quant-'));
  try {
    const input = join(dir, 'stories110M-shaped.bin');
    writeCheckpoint(input, randomModel(STORIES110M, 1), 'v1');
    const inputBytes = statSync(input).size;
    const read = child(['read', input]);
    const rows: [string, Sample, number][] = [['read + validate (baseline)', read, inputBytes]];
    for (const quant of ['q8_0', 'q4_0']) {
      const output = join(dir, `${quant}.bin`);
      rows.push([`quantize to ${quant}`, child(['quantize', input, output, quant]), statSync(output).size]);
    }
    process.stdout.write(`\nquantizing a stories110M-shaped checkpoint (${formatBytes(inputBytes)} of fp32, random weights)\n`);
    for (const [name, s, bytes] of rows) {
      const ratio =
        s === read
          ? 'baseline'
          : `${(s.seconds / read.seconds).toFixed(2)}× the time, ${(s.maxRssBytes / read.maxRssBytes).toFixed(2)}× the memory`;
      process.stdout.write(
        `  ${name.padEnd(28)} ${s.seconds.toFixed(2).padStart(6)} s   peak RSS ${formatBytes(s.maxRssBytes).padStart(10)}   output ${formatBytes(bytes).padStart(10)}   ${ratio}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
