/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small CPU-bound program to profile: three functions with different, known shares of the work,
 * so that a profile of it has an obvious answer (sort_block > hash_block > checksum_block). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 4096

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

__attribute__((noinline)) static uint64_t hash_block(const uint32_t *v, size_t n, unsigned rounds) {
        uint64_t h = 1469598103934665603u;

        for (unsigned r = 0; r < rounds; r++)
                for (size_t i = 0; i < n; i++)
                        h = (h ^ v[i]) * 1099511628211u;
        return h;
}

__attribute__((noinline)) static void sort_block(uint32_t *v, size_t n) {
        /* Insertion sort of a reversed run: quadratic on purpose. */
        for (size_t i = 0; i < n; i++)
                v[i] = (uint32_t) (n - i);
        for (size_t i = 1; i < n; i++) {
                uint32_t x = v[i];
                size_t j = i;

                while (j > 0 && v[j - 1] > x) {
                        v[j] = v[j - 1];
                        j--;
                }
                v[j] = x;
        }
}

__attribute__((noinline)) static uint64_t checksum_block(const uint32_t *v, size_t n) {
        uint64_t s = 0;

        for (size_t i = 0; i < n; i++)
                s += v[i] * (i | 1);
        return s;
}

int main(int argc, char *argv[]) {
        double seconds = argc > 1 ? atof(argv[1]) : 2.0;
        static uint32_t v[N];
        uint64_t end, acc = 0;
        unsigned iterations = 0;

        if (seconds <= 0 || seconds > 3600) {
                fprintf(stderr, "usage: %s [SECONDS]  (0 < SECONDS <= 3600)\n", argv[0]);
                return 2;
        }
        end = now_ns() + (uint64_t) (seconds * 1e9);
        do {
                sort_block(v, N / 4);
                acc += hash_block(v, N / 4, 24);
                acc += checksum_block(v, N / 4);
                iterations++;
        } while (now_ns() < end);

        printf("workload: %u iterations in %.1fs (checksum %016llx)\n", iterations, seconds, (unsigned long long) acc);
        return 0;
}
