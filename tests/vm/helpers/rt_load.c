// SPDX-License-Identifier: GPL-2.0-only
/*
 * Loads for tests/vm/rt.sh and rt_audio.sh, each ending by itself so that
 * a VM whose CPUs RT tasks hold stays recoverable (no shell or timer has to
 * get a CPU to stop them):
 *   rt_load hog SECONDS             spin until SECONDS have passed
 *   rt_load audio PERIOD_US RUN_US SECONDS
 *                                   every PERIOD_US (absolute deadlines, as
 *                                   an audio server's period), spin RUN_US
 *   rt_load hogs SECONDS PID...     a SCHED_FIFO 50 hog pinned to each CPU
 *                                   for SECONDS; meanwhile samples each PID's
 *                                   time on a CPU and sched_ext's state 2 s
 *                                   in, 2 s before the end and after the hogs
 *   rt_load chain SECONDS WORK_US   two pairs of threads, each pair handing a
 *                                   frame back and forth through pipes, each
 *                                   thread spinning WORK_US per hand-off, the
 *                                   way a game's threads chain (two CPUs
 *                                   busy); prints "tids A B C D" first
 * Scheduling policy is set from outside (chrt), so the same binary serves
 * as an RT and a normal task; `hogs` forks its hogs without an exec and
 * reads only procfs and sysfs, so that its samples (run it above the hogs,
 * chrt -f 60) do not wait on the guest's file system, whose virtiofs
 * completions run in kworkers, sched_ext tasks that the hogs starve.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void spin_until(long long end)
{
	while (now_ns() < end)
		;
}

#define CHAIN_THREADS 4

static long long chain_end, chain_work;
/* Thread i reads pipes[i] and hands on to its partner, i ^ 1. */
static int pipes[CHAIN_THREADS][2];
static volatile pid_t tids[CHAIN_THREADS];

static void *chain_thread(void *arg)
{
	int me = (int)(long)arg;
	char c = 0;

	tids[me] = gettid();
	for (;;) {
		if (read(pipes[me][0], &c, 1) != 1)
			return NULL;
		spin_until(now_ns() + chain_work);
		if (now_ns() >= chain_end)
			c = 1;
		if (write(pipes[me ^ 1][1], &c, 1) != 1 || c)
			return NULL;
	}
}

static int chain(double secs, long work_us)
{
	pthread_t t[CHAIN_THREADS];
	char c = 0;
	int i;

	chain_end = now_ns() + (long long)(secs * 1e9);
	chain_work = work_us * 1000LL;
	for (i = 0; i < CHAIN_THREADS; i++)
		if (pipe(pipes[i]))
			return 1;
	for (i = 0; i < CHAIN_THREADS; i++)
		if (pthread_create(&t[i], NULL, chain_thread, (void *)(long)i))
			return 1;
	for (i = 0; i < CHAIN_THREADS; i++)
		while (!tids[i])
			usleep(1000);
	/* Every thread exists before the first hand-off: the test traces them. */
	printf("tids");
	for (i = 0; i < CHAIN_THREADS; i++)
		printf(" %d", tids[i]);
	printf("\n");
	fflush(stdout);
	/* Start each pair. */
	for (i = 0; i < CHAIN_THREADS; i += 2)
		if (write(pipes[i][1], &c, 1) != 1)
			return 1;
	for (i = 0; i < CHAIN_THREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}

static void sleep_until(long long t)
{
	struct timespec ts = { .tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

static void read_line(const char *path, char *buf, int len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, " \n")] = 0;
}

/* The ns on a CPU of /proc/PID/schedstat, or "-" once PID is gone. */
static void print_ran(const char *pid)
{
	char path[64], ran[64];

	snprintf(path, sizeof(path), "/proc/%s/schedstat", pid);
	read_line(path, ran, sizeof(ran));
	printf(" %s", ran[0] ? ran : "-");
}

/* "<monotonic s> <first PID's ns on a CPU> <sched_ext state> <hog 0's ns
 * on a CPU> <the other PIDs' ns on a CPU>..." */
static void sample(char **pids, int npids, pid_t hog)
{
	char path[64], state[64], hog_ran[64] = "-";
	int i;

	read_line("/sys/kernel/sched_ext/state", state, sizeof(state));
	if (hog) {
		snprintf(path, sizeof(path), "/proc/%d/schedstat", hog);
		read_line(path, hog_ran, sizeof(hog_ran));
	}
	printf("%.3f", now_ns() / 1e9);
	print_ran(pids[0]);
	printf(" %s %s", state[0] ? state : "-", hog_ran);
	for (i = 1; i < npids; i++)
		print_ran(pids[i]);
	printf("\n");
	fflush(stdout);
}

static int hogs(double secs, char **pids, int npids)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN), i;
	long long start = now_ns(), end = start + (long long)(secs * 1e9);
	struct sched_param fifo50 = { .sched_priority = 50 };
	pid_t first = 0;
	int status, rc = 0;

	for (i = 0; i < n; i++) {
		pid_t child = fork();
		cpu_set_t set;

		if (child < 0)
			return 1;
		if (child == 0) {
			CPU_ZERO(&set);
			CPU_SET(i, &set);
			if (sched_setaffinity(0, sizeof(set), &set) ||
			    sched_setscheduler(0, SCHED_FIFO, &fifo50))
				_exit(1);
			spin_until(end);
			_exit(0);
		}
		if (!first)
			first = child;
	}
	sleep_until(start + 2000000000LL);
	sample(pids, npids, first);
	sleep_until(end - 2000000000LL);
	sample(pids, npids, first);
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rc = 1;
	sample(pids, npids, 0);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "hog")) {
		spin_until(now_ns() + (long long)(atof(argv[2]) * 1e9));
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "audio")) {
		long long period = atol(argv[2]) * 1000LL, run = atol(argv[3]) * 1000LL;
		long long next = now_ns(), end = next + (long long)(atof(argv[4]) * 1e9);
		struct timespec t;

		while (next < end) {
			spin_until(now_ns() + run);
			next += period;
			/* Late by a period or more: skip what was missed, as an
			 * audio server does after an xrun, rather than run the
			 * missed periods back to back. */
			if (next < now_ns())
				next = now_ns() + period;
			t.tv_sec = next / 1000000000LL;
			t.tv_nsec = next % 1000000000LL;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		}
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "hogs"))
		return hogs(atof(argv[2]), argv + 3, argc - 3);
	if (argc == 4 && !strcmp(argv[1], "chain"))
		return chain(atof(argv[2]), atol(argv[3]));
	fprintf(stderr, "usage: rt_load hog SECONDS | hogs SECONDS PID... | audio PERIOD_US RUN_US SECONDS | chain SECONDS WORK_US\n");
	return 2;
}
