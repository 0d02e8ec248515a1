/* Streaming-read bandwidth: sums a buffer much larger than the caches, as a matmul streams weights. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void) {
    const size_t bytes = (size_t)512 << 20;
    const size_t n = bytes / sizeof(uint64_t);
    uint64_t* data = malloc(bytes);
    if (!data) return 1;
    for (size_t i = 0; i < n; i++) data[i] = i;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        uint64_t sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
        for (size_t i = 0; i < n; i += 4) {
            sum0 += data[i];
            sum1 += data[i + 1];
            sum2 += data[i + 2];
            sum3 += data[i + 3];
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
        if (bytes / seconds > best) best = bytes / seconds;
        if (sum0 + sum1 + sum2 + sum3 == 42) puts("");
    }
    printf("%.0f\n", best);
    free(data);
    return 0;
}
