/**
 * How work is cut between threads or cores, compiled from the very C the generated programs use:
 * a grouped matmul job (q, k and v as one job of rows, src/codegen/forward.ts) gives every row of
 * every matrix to exactly one range, wherever the cut falls; the thread pool hands over only jobs
 * big enough to pay for it; the RP2040's parallel_split keeps the four-row blocks and leaves both
 * cores work.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MATMUL_GROUP } from '../../src/codegen/forward-parallel.js';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const HARNESS = `#include <stdio.h>
typedef void (*RowsFn)(const void* job, int start, int end);
${MATMUL_GROUP}

static int seen[3][4096];
typedef struct { int matrix; } Tag;
static void record(const void* job, int start, int end) {
    for (int r = start; r < end; r++) seen[((const Tag*)job)->matrix][r]++;
}

${/int parallel_split\(int rows\) \{[\s\S]*?\n\}/.exec(readFileSync(join(projectRoot(), 'templates', 'rp2040', 'parallel.c'), 'utf8'))![0]}

/* argv: the rows of each matrix; prints one line per cut point: the rows seen 0, 1, 2+ times */
int main(int argc, char** argv) {
    Tag tags[3] = {{0}, {1}, {2}};
    MatmulGroup g = {argc - 1, {record, record, record}, {&tags[0], &tags[1], &tags[2]}, {0, 0, 0}};
    int total = 0;
    for (int p = 0; p < g.count; p++) total += g.rows[p] = atoi(argv[p + 1]);
    for (int cut = 0; cut <= total; cut++) {
        for (int p = 0; p < 3; p++) for (int r = 0; r < 4096; r++) seen[p][r] = 0;
        matmul_group_rows(&g, 0, cut);
        matmul_group_rows(&g, cut, total);
        int missing = 0, twice = 0, outside = 0;
        for (int p = 0; p < 3; p++)
            for (int r = 0; r < 4096; r++) {
                if (p < g.count && r < g.rows[p]) missing += seen[p][r] == 0, twice += seen[p][r] > 1;
                else outside += seen[p][r] != 0;
            }
        printf("%d %d %d\\n", missing, twice, outside);
    }
    for (int rows = 0; rows <= 600; rows++) printf("split %d %d\\n", rows, parallel_split(rows));
    return 0;
}
`;

describe('work split: grouped matmul jobs and the RP2040 cores', () => {
  needs('cc');
  const tmp = tempDir();
  let program = '';
  before(() => {
    writeFileSync(join(tmp.dir, 'split.c'), `#include <stdlib.h>\n${HARNESS}`);
    program = join(tmp.dir, 'split');
    execFileSync('cc', ['-std=c11', '-O1', '-Wall', '-Werror', '-o', program, join(tmp.dir, 'split.c')]);
  });
  after(() => tmp.cleanup());

  for (const rows of [
    [288, 288, 288],
    [64, 32, 32],
    [768, 768],
    [5, 1, 3],
  ]) {
    it(`a group of ${rows.join(' + ')} rows: each row of each matrix in exactly one range, for every cut`, () => {
      const lines = execFileSync(program, rows.map(String), { encoding: 'utf8' }).split('\n');
      const cuts = lines.filter((l) => /^\d+ \d+ \d+$/.test(l));
      expect(cuts).to.have.length(rows.reduce((a, b) => a + b) + 1);
      expect(
        cuts.filter((l) => l !== '0 0 0'),
        'cuts with a row missed, done twice or out of range',
      ).to.deep.equal([]);
    });
  }

  it('parallel_worth: a job under 64 Ki multiply-adds stays on the caller, and nothing is handed over on one thread or without threads', () => {
    const common = join(projectRoot(), 'templates', 'common');
    writeFileSync(
      join(tmp.dir, 'worth.c'),
      `#include <stdio.h>
#include <stdlib.h>
#include "parallel.h"
int main(int argc, char** argv) {
    parallel_init(atoi(argv[1]));
    printf("%d %d %d %d\\n", parallel_worth(0), parallel_worth(65535), parallel_worth(65536), parallel_worth(24576000));
    return 0;
}
`,
    );
    const worth = (pool: string, threads: string) => {
      const exe = join(tmp.dir, `worth-${pool}`);
      execFileSync('cc', [
        '-std=c11',
        '-O1',
        '-Wall',
        '-Werror',
        `-I${common}`,
        '-o',
        exe,
        join(tmp.dir, 'worth.c'),
        join(common, `${pool}.c`),
        '-lpthread',
      ]);
      return execFileSync(exe, [threads], { encoding: 'utf8' }).trim();
    };
    expect(worth('parallel', '2')).to.equal('0 0 1 1');
    expect(worth('parallel', '1')).to.equal('0 0 0 0');
    expect(worth('parallel-none', '2')).to.equal('0 0 0 0');
  });

  it('parallel_split: a multiple of 4 from 8 rows on, both cores busy from 2 rows on, never past the end', () => {
    const lines = execFileSync(program, ['1'], { encoding: 'utf8' }).split('\n');
    const splits = lines.filter((l) => l.startsWith('split ')).map((l) => l.split(' ').slice(1).map(Number));
    expect(splits).to.have.length(601);
    for (const [rows, split] of splits) {
      expect(split, `${rows} rows`).to.be.within(0, rows);
      if (rows >= 8) expect(split % 4, `${rows} rows`).to.equal(0);
      if (rows >= 2) expect(split > 0 && split < rows, `${rows} rows: split ${split}`).to.equal(true);
      expect(Math.abs(rows - 2 * split), `${rows} rows: split ${split} is near half`).to.be.at.most(rows >= 8 ? 7 : 1);
    }
    expect(splits[4][1]).to.equal(2); // an attention job of 4 key/value heads: 2 each
  });
});
