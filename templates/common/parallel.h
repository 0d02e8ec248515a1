/*
 * Splitting work over threads: rows [0, rows) are cut into one contiguous range per thread and
 * `fn` runs on each range, the calling thread taking the first. Results do not depend on the
 * number of threads, since every row is computed by one thread in its own order.
 */
#ifndef LLAMA2_EMBED_PARALLEL_H
#define LLAMA2_EMBED_PARALLEL_H

typedef void (*RowsFn)(const void* job, int start, int end);

/* Starts threads - 1 workers; 1 (or less) runs everything on the caller. */
void parallel_init(int threads);
/* Whether `work` multiply-adds are worth splitting: more than one thread, and enough work to pay
 * for handing it over. */
int parallel_worth(long work);
void parallel_rows(RowsFn fn, const void* job, int rows);

#endif
