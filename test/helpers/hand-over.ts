/**
 * A generated host project rebuilt so that every job goes to the threads (PARALLEL_MIN_WORK=0 in
 * templates/common/parallel.c): stories260K's jobs are all below the threshold, so without this
 * the tests would never run the split paths (grouped matmuls, attention by key/value head, SwiGLU)
 * on the small model, or attention's on any model before position ~113.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadTarget } from '../../src/plan/target.js';

/** Copies the project in `outDir` beside it, rebuilds it there, and returns the new program. */
export function handOverEveryJob(outDir: string): string {
  const dir = `${outDir}-every-job`;
  cpSync(outDir, dir, { recursive: true });
  const cflags = [...loadTarget('host').toolchain.cflags, '-DPARALLEL_MIN_WORK=0'].join(' ');
  execFileSync('make', ['-C', dir, '-B', `CFLAGS=${cflags}`], { stdio: 'ignore' });
  return join(dir, 'llama2');
}
