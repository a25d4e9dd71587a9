/*
 * hbtest: the test programs the init runs (`run-test NAME`). Each prints what it checked and
 * exits 0 when the kernel (or the machine under it) behaved; any other status names a failure.
 *
 *   fork-exec   processes: fork, exec and wait, exit codes passed back intact
 *   amo         threads contending on one counter with AMOs (amoadd) and LR/SC (compare-exchange)
 *   amo-cow     an AMO on a copy-on-write page right after fork, in the child and the parent
 *   timers      nanosleep and an interval timer (SIGALRM) against CLOCK_MONOTONIC
 *   pinned      one thread pinned to each online hart, each checks it runs there
 *   all         all of the above in turn
 *
 * and three that never return, for the wedge autopsy (not in "all"):
 *
 *   wedge-spin       spin forever in user mode, console quiet
 *   wedge-kernel     the kernel loops with preemption off (LKDTM SOFTLOCKUP)
 *   wedge-hung-task  this task blocks in the kernel for good (LKDTM HUNG_TASK)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { printf("hbtest: FAIL: " __VA_ARGS__); printf("\n"); return 1; } while (0)

static const char *self_path = "/bin/hbtest";

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- fork-exec ------------------------------------------------------------------------------ */

#define CHILDREN 16

static int test_fork_exec(void)
{
	pid_t pids[CHILDREN];
	for (int i = 0; i < CHILDREN; i++) {
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] < 0)
			FAIL("fork %d: %s", i, strerror(errno));
		if (pids[i] == 0) {
			char code[16];
			snprintf(code, sizeof code, "%d", 10 + i);
			execl(self_path, self_path, "exit-with", code, (char *)NULL);
			_exit(127);
		}
	}
	for (int i = 0; i < CHILDREN; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i])
			FAIL("waitpid %d: %s", i, strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 10 + i)
			FAIL("child %d: status 0x%x, expected exit %d", i, status, 10 + i);
	}
	printf("hbtest: fork-exec: %d children forked, exec'd and reaped with their exit codes\n", CHILDREN);
	return 0;
}

/* --- amo ------------------------------------------------------------------------------------ */

#define AMO_THREADS 4
#define AMO_ROUNDS 20000

static uint64_t amo_counter;
static uint64_t lrsc_counter;

static void *amo_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < AMO_ROUNDS; i++) {
		/* amoadd.d */
		__atomic_fetch_add(&amo_counter, 1, __ATOMIC_RELAXED);
		/* lr.d / sc.d loop */
		uint64_t old = __atomic_load_n(&lrsc_counter, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&lrsc_counter, &old, old + 1, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			;
	}
	return NULL;
}

static int test_amo(void)
{
	pthread_t threads[AMO_THREADS];
	for (int i = 0; i < AMO_THREADS; i++)
		if (pthread_create(&threads[i], NULL, amo_worker, NULL) != 0)
			FAIL("pthread_create %d", i);
	for (int i = 0; i < AMO_THREADS; i++)
		pthread_join(threads[i], NULL);
	uint64_t expected = (uint64_t)AMO_THREADS * AMO_ROUNDS;
	if (amo_counter != expected || lrsc_counter != expected)
		FAIL("amo: amoadd counter %llu, lr/sc counter %llu, expected %llu", (unsigned long long)amo_counter,
		     (unsigned long long)lrsc_counter, (unsigned long long)expected);
	printf("hbtest: amo: %d threads x %d rounds, amoadd and lr/sc counters both %llu\n", AMO_THREADS, AMO_ROUNDS,
	       (unsigned long long)expected);
	return 0;
}

/* --- amo-cow -------------------------------------------------------------------------------- */

#define COW_ROUNDS 20

static int test_amo_cow(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t *word = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (word == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));
	for (int round = 0; round < COW_ROUNDS; round++) {
		*word = 1000; /* the page is present and writable, then fork makes it copy-on-write */
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			FAIL("fork: %s", strerror(errno));
		if (pid == 0) {
			/* The first access after fork is the AMO itself: a store/AMO page fault on a COW page. */
			uint32_t before = __atomic_fetch_add(word, 1, __ATOMIC_SEQ_CST);
			_exit(before == 1000 && *word == 1001 ? 0 : 1);
		}
		uint32_t before = __atomic_fetch_add(word, 7, __ATOMIC_SEQ_CST);
		int status;
		if (waitpid(pid, &status, 0) != pid)
			FAIL("waitpid: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("amo-cow round %d: the child's AMO saw the wrong value (status 0x%x)", round, status);
		if (before != 1000 || *word != 1007)
			FAIL("amo-cow round %d: parent read %u before and %u after its AMO, expected 1000 and 1007", round,
			     before, *word);
	}
	munmap(word, page);
	printf("hbtest: amo-cow: %d rounds of AMOs on a copy-on-write page right after fork, both copies right\n",
	       COW_ROUNDS);
	return 0;
}

/* --- timers --------------------------------------------------------------------------------- */

#define ALARMS 5
#define ALARM_US 20000

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static int test_timers(void)
{
	struct timespec nap = {0, 100 * 1000 * 1000};
	int64_t start = now_ns();
	if (nanosleep(&nap, NULL) != 0)
		FAIL("nanosleep: %s", strerror(errno));
	int64_t slept = now_ns() - start;
	if (slept < 100 * 1000 * 1000)
		FAIL("nanosleep(100 ms) returned after %lld ns", (long long)slept);

	signal(SIGALRM, on_alarm);
	struct itimerval every = {{0, ALARM_US}, {0, ALARM_US}};
	start = now_ns();
	if (setitimer(ITIMER_REAL, &every, NULL) != 0)
		FAIL("setitimer: %s", strerror(errno));
	while (alarms < ALARMS)
		pause();
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	int64_t elapsed = now_ns() - start;
	if (elapsed < (int64_t)ALARMS * ALARM_US * 1000)
		FAIL("%d alarms %d us apart came after only %lld ns", ALARMS, ALARM_US, (long long)elapsed);
	printf("hbtest: timers: nanosleep(100 ms) took %lld ms, %d alarms every %d ms took %lld ms\n",
	       (long long)(slept / 1000000), ALARMS, ALARM_US / 1000, (long long)(elapsed / 1000000));
	return 0;
}

/* --- pinned --------------------------------------------------------------------------------- */

#define MAX_HARTS 64
#define PINNED_CHECKS 200

struct pin {
	pthread_t thread;
	int cpu;
	int wrong; /* checks that found the thread on another hart */
	int failed_affinity;
};

static void *pinned_worker(void *arg)
{
	struct pin *pin = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(pin->cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		pin->failed_affinity = errno;
		return NULL;
	}
	for (int i = 0; i < PINNED_CHECKS; i++) {
		if (sched_getcpu() != pin->cpu)
			pin->wrong++;
		sched_yield();
	}
	return NULL;
}

static int test_pinned(void)
{
	cpu_set_t online;
	if (sched_getaffinity(0, sizeof online, &online) != 0)
		FAIL("sched_getaffinity: %s", strerror(errno));
	struct pin pins[MAX_HARTS];
	int count = 0;
	for (int cpu = 0; cpu < MAX_HARTS; cpu++)
		if (CPU_ISSET(cpu, &online))
			pins[count++] = (struct pin){.cpu = cpu};
	for (int i = 0; i < count; i++)
		if (pthread_create(&pins[i].thread, NULL, pinned_worker, &pins[i]) != 0)
			FAIL("pthread_create for cpu %d", pins[i].cpu);
	for (int i = 0; i < count; i++)
		pthread_join(pins[i].thread, NULL);
	for (int i = 0; i < count; i++) {
		if (pins[i].failed_affinity)
			FAIL("pinning to cpu %d: %s", pins[i].cpu, strerror(pins[i].failed_affinity));
		if (pins[i].wrong)
			FAIL("thread pinned to cpu %d ran elsewhere %d of %d times", pins[i].cpu, pins[i].wrong,
			     PINNED_CHECKS);
	}
	printf("hbtest: pinned: %d threads, one per hart, each stayed on its hart for %d checks\n", count,
	       PINNED_CHECKS);
	return 0;
}

/* --- wedges, for the autopsy (never part of "all") ----------------------------------------- */

/* A user program that spins forever with the console quiet: the hart stays in U-mode, busy. */
static int wedge_spin(void)
{
	printf("hbtest: wedge-spin: spinning in user mode, console quiet from here\n");
	fflush(stdout);
	for (volatile unsigned long n = 0;; n++)
		;
	return 1;
}

/* Ask the kernel's LKDTM (debugfs provoke-crash/DIRECT) to hang itself in one of its ways. */
static int lkdtm(const char *what)
{
	mkdir("/sys/kernel/debug", 0755);
	if (mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL) != 0 && errno != EBUSY)
		FAIL("mount debugfs: %s", strerror(errno));
	int fd = open("/sys/kernel/debug/provoke-crash/DIRECT", O_WRONLY);
	if (fd < 0)
		FAIL("open provoke-crash/DIRECT: %s (a kernel without CONFIG_LKDTM)", strerror(errno));
	printf("hbtest: asking LKDTM for %s, console quiet from here\n", what);
	fflush(stdout);
	if (write(fd, what, strlen(what)) < 0)
		FAIL("write %s to provoke-crash/DIRECT: %s", what, strerror(errno));
	close(fd);
	FAIL("LKDTM %s returned", what);
}

/* The kernel loops with preemption off (lkdtm_SOFTLOCKUP): the hart spins in S-mode. */
static int wedge_kernel(void)
{
	return lkdtm("SOFTLOCKUP");
}

/* This task blocks in the kernel for good (lkdtm_HUNG_TASK, state D): SysRq w names it. */
static int wedge_hung_task(void)
{
	return lkdtm("HUNG_TASK");
}

struct test {
	const char *name;
	int (*run)(void);
};

static const struct test wedges[] = {
	{"wedge-spin", wedge_spin}, {"wedge-kernel", wedge_kernel}, {"wedge-hung-task", wedge_hung_task},
};
#define NWEDGES (int)(sizeof wedges / sizeof wedges[0])

/* --- dispatch ------------------------------------------------------------------------------- */

static const struct test tests[] = {
	{"fork-exec", test_fork_exec}, {"amo", test_amo}, {"amo-cow", test_amo_cow},
	{"timers", test_timers},       {"pinned", test_pinned},
};
#define NTESTS (int)(sizeof tests / sizeof tests[0])

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "exit-with") == 0)
		return atoi(argv[2]);
	if (argc != 2) {
		printf("usage: hbtest NAME|all|list\n");
		return 2;
	}
	if (strcmp(argv[1], "list") == 0) {
		for (int i = 0; i < NTESTS; i++)
			printf("%s\n", tests[i].name);
		for (int i = 0; i < NWEDGES; i++)
			printf("%s\n", wedges[i].name);
		return 0;
	}
	for (int i = 0; i < NWEDGES; i++)
		if (strcmp(argv[1], wedges[i].name) == 0)
			return wedges[i].run();
	int all = strcmp(argv[1], "all") == 0;
	for (int i = 0; i < NTESTS; i++) {
		if (!all && strcmp(argv[1], tests[i].name) != 0)
			continue;
		int status = tests[i].run();
		if (!all || status != 0)
			return status;
	}
	if (all)
		return 0;
	printf("hbtest: no test named '%s' (hbtest list)\n", argv[1]);
	return 2;
}
