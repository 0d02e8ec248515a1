/*
 * Streaming-read bandwidth: sums a buffer much larger than the caches, as a matmul streams weights,
 * with 1 or more threads (argv[1]), each summing its own contiguous share, as the matmul threads
 * each stream their own rows. Prints bytes per second, the best of 5 passes.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    const uint64_t* data;
    size_t n;
    uint64_t sum;
} Share;

static void* sum_share(void* arg) {
    Share* s = arg;
    uint64_t sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
    for (size_t i = 0; i < s->n; i += 4) {
        sum0 += s->data[i];
        sum1 += s->data[i + 1];
        sum2 += s->data[i + 2];
        sum3 += s->data[i + 3];
    }
    s->sum = sum0 + sum1 + sum2 + sum3;
    return NULL;
}

int main(int argc, char** argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) return 2;
    const size_t bytes = (size_t)512 << 20;
    const size_t n = bytes / sizeof(uint64_t);
    uint64_t* data = malloc(bytes);
    if (!data) return 1;
    for (size_t i = 0; i < n; i++) data[i] = i;
    Share shares[64];
    pthread_t ids[64];
    const size_t per = n / threads / 4 * 4;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int t = 0; t < threads; t++) {
            shares[t] = (Share){data + t * per, per, 0};
            if (t > 0) pthread_create(&ids[t], NULL, sum_share, &shares[t]);
        }
        sum_share(&shares[0]);
        for (int t = 1; t < threads; t++) pthread_join(ids[t], NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
        double rate = (double)(per * threads * sizeof(uint64_t)) / seconds;
        if (rate > best) best = rate;
        uint64_t total = 0;
        for (int t = 0; t < threads; t++) total += shares[t].sum;
        if (total == 42) puts("");
    }
    printf("%.0f\n", best);
    free(data);
    return 0;
}
