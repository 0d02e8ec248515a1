/*
 * A fixed pool of worker threads (pthreads) that wait on a condition variable for the next
 * range of rows. The caller works on the first range itself, then waits for the others.
 */
#include "parallel.h"

#include <pthread.h>

#define MAX_THREADS 64

static int n_threads = 1;
static pthread_t workers[MAX_THREADS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;
static RowsFn current_fn;
static const void* current_job;
static int current_rows;
static unsigned long generation; /* bumped for each parallel_rows call */
static int pending;              /* workers still busy with this generation */

static void range_of(int index, int rows, int* start, int* end) {
    int chunk = (rows + n_threads - 1) / n_threads;
    *start = index * chunk < rows ? index * chunk : rows;
    *end = *start + chunk < rows ? *start + chunk : rows;
}

static void* worker_main(void* arg) {
    int index = (int)(long)arg;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (generation == seen) pthread_cond_wait(&work_ready, &lock);
        seen = generation;
        RowsFn fn = current_fn;
        const void* job = current_job;
        int rows = current_rows;
        pthread_mutex_unlock(&lock);

        int start, end;
        range_of(index, rows, &start, &end);
        if (start < end) fn(job, start, end);

        pthread_mutex_lock(&lock);
        if (--pending == 0) pthread_cond_signal(&work_done);
        pthread_mutex_unlock(&lock);
    }
    return 0;
}

void parallel_init(int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    for (int i = n_threads; i < threads; i++) pthread_create(&workers[i], 0, worker_main, (void*)(long)i);
    if (threads > n_threads) n_threads = threads;
}

int parallel_threads(void) {
    return n_threads;
}

void parallel_rows(RowsFn fn, const void* job, int rows) {
    if (n_threads == 1) {
        fn(job, 0, rows);
        return;
    }
    pthread_mutex_lock(&lock);
    current_fn = fn;
    current_job = job;
    current_rows = rows;
    pending = n_threads - 1;
    generation++;
    pthread_cond_broadcast(&work_ready);
    pthread_mutex_unlock(&lock);

    int start, end;
    range_of(0, rows, &start, &end);
    if (start < end) fn(job, start, end);

    pthread_mutex_lock(&lock);
    while (pending > 0) pthread_cond_wait(&work_done, &lock);
    pthread_mutex_unlock(&lock);
}
