/*
 * A fixed pool of worker threads (pthreads). A matmul takes microseconds, so waking workers
 * through the kernel each time would cost more than the work: workers spin on an atomic
 * generation counter for a while (about a token's time) before they sleep on a condition
 * variable, and the caller spins until the others are done with their rows.
 */
#include "parallel.h"

#define _GNU_SOURCE /* sched_yield */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define MAX_THREADS 64
#define SPIN_LIMIT 200000 /* polls before a worker goes to sleep */
#define PAUSES_BEFORE_YIELD 2000 /* then polls give the core away, in case the thread we wait for needs it */
/*
 * Less work than this stays on the caller. Measured on a 2-core x86 VM: a hand-over and the wait
 * for the others cost about as much as 20-60 k int8 multiply-adds, so stories260K (matrices of 4 k
 * to 32 k) ran at half speed on two threads, while stories15M's smallest jobs (83 k) still gain.
 */
#ifndef PARALLEL_MIN_WORK
#define PARALLEL_MIN_WORK 65536 /* the tests set 0 to hand over every job */
#endif

static int n_threads = 1;
static pthread_t workers[MAX_THREADS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static RowsFn current_fn;
static const void* current_job;
static int current_rows;
static atomic_ulong generation; /* bumped for each parallel_rows call; publishes the job */
static atomic_int pending;      /* workers still busy with this generation */

static inline void cpu_relax(int polls) {
    if (polls > PAUSES_BEFORE_YIELD) {
        sched_yield(); /* the machine is busy: spinning would steal the core from a worker */
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ volatile("yield");
#endif
}

static void range_of(int index, int rows, int* start, int* end) {
    int chunk = (rows + n_threads - 1) / n_threads;
    *start = index * chunk < rows ? index * chunk : rows;
    *end = *start + chunk < rows ? *start + chunk : rows;
}

static unsigned long wait_for_work(unsigned long seen) {
    for (int spins = 0; spins < SPIN_LIMIT; spins++) {
        unsigned long now = atomic_load_explicit(&generation, memory_order_acquire);
        if (now != seen) return now;
        cpu_relax(spins);
    }
    pthread_mutex_lock(&lock);
    while (atomic_load_explicit(&generation, memory_order_acquire) == seen) pthread_cond_wait(&work_ready, &lock);
    pthread_mutex_unlock(&lock);
    return atomic_load_explicit(&generation, memory_order_acquire);
}

static void* worker_main(void* arg) {
    int index = (int)(long)arg;
    unsigned long seen = 0;
    for (;;) {
        seen = wait_for_work(seen);
        int start, end;
        range_of(index, current_rows, &start, &end);
        if (start < end) current_fn(current_job, start, end);
        atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
    }
    return 0;
}

void parallel_init(int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    for (int i = n_threads; i < threads; i++) pthread_create(&workers[i], 0, worker_main, (void*)(long)i);
    if (threads > n_threads) n_threads = threads;
}

int parallel_worth(long work) {
    return n_threads > 1 && work >= PARALLEL_MIN_WORK;
}

void parallel_rows(RowsFn fn, const void* job, int rows) {
    if (n_threads == 1) {
        fn(job, 0, rows);
        return;
    }
    current_fn = fn;
    current_job = job;
    current_rows = rows;
    atomic_store_explicit(&pending, n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&lock); /* so that a worker about to sleep cannot miss the wake-up */
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&work_ready);
    pthread_mutex_unlock(&lock);

    int start, end;
    range_of(0, rows, &start, &end);
    if (start < end) fn(job, start, end);
    for (int polls = 0; atomic_load_explicit(&pending, memory_order_acquire) > 0; polls++) cpu_relax(polls);
}
