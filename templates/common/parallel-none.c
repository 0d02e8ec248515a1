/*
 * parallel.h for targets without threads (microcontrollers): every range runs on the caller.
 */
#include "parallel.h"

void parallel_init(int threads) {
    (void)threads;
}

int parallel_worth(long work) {
    (void)work;
    return 0;
}

void parallel_rows(RowsFn fn, const void* job, int rows) {
    fn(job, 0, rows);
}
