// SPDX-License-Identifier: GPL-2.0-only
// A busy loop of an exact instruction count (two per iteration: dec, jnz),
// timed on CLOCK_MONOTONIC: on the host it shows how many instructions a
// real millisecond holds; in a VM on QEMU's instruction-count clock it
// shows how many a guest millisecond holds.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec a, b;
	long n;

	if (argc != 2 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: spin ITERATIONS (> 0)\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n));
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
	return 0;
}
