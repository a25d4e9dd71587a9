/*
 * hbtest: the test programs the init runs (`run-test NAME`). Each prints what it checked and
 * exits 0 when the kernel (or the machine under it) behaved; any other status names a failure.
 *
 *   fork-exec   processes: fork, exec and wait, exit codes passed back intact
 *   amo         threads contending on one counter with AMOs (amoadd) and LR/SC (compare-exchange)
 *   amo-cow     an AMO on a copy-on-write page right after fork, in the child and the parent
 *   timers      nanosleep and an interval timer (SIGALRM) against CLOCK_MONOTONIC
 *   pinned      one thread pinned to each online hart, each checks it runs there
 *   fork-threads  a process with running threads (malloc/free) forks; both sides malloc after
 *   amo-rd-rs2  every AMO kind and width with rd == rs2 as the first write after fork (COW fault)
 *   lrsc        LR/SC: contention across harts, no reservation, another address, a trap between,
 *               another hart's store between
 *   amo-traps   misaligned AMO/LR/SC raise SIGBUS; an AMO on a read-only page SIGSEGV
 *   wakeup      nanosleep on every hart, an idle hart woken by an IPI, a re-armed timer, no storm
 *   mem-perms   execute-only pages (user loads fault, MXR clear), mprotect, remaps on every hart
 *   jit         code written, fence.i, run, rewritten, run, on two harts
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
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
/* ============================================================================================
 * The bug classes emulator developers hit (issue 21). Each test prints what it saw when the
 * machine got it wrong; a test that hangs is a wedge the plan names.
 * ========================================================================================== */


/* --- fork-threads: the semu AMO bug's own path ---------------------------------------------- */

/*
 * A process with a running thread that forks: glibc then runs its malloc fork handlers, and the
 * parent's unlock of the malloc list lock (`amoswap.w a5,a5,(a4)`, rd == rs2) is its first write
 * to that page after fork, a store fault on a copy-on-write page. An emulator that commits rd
 * before the store faults retries with the old lock value: the lock stays taken, the next
 * malloc hangs (semu, shared/seeds/004).
 */
#define FT_ROUNDS 12
#define FT_CHURNERS 2

static volatile int ft_stop;

static void *ft_churn(void *arg)
{
	unsigned size = (unsigned)(uintptr_t)arg;
	while (!ft_stop) {
		void *p = malloc(size);
		if (p)
			memset(p, 0x5a, size);
		free(p);
		size = size * 7 % 4000 + 16;
	}
	return NULL;
}

static int test_fork_threads(void)
{
	pthread_t churners[FT_CHURNERS];
	for (int i = 0; i < FT_CHURNERS; i++)
		if (pthread_create(&churners[i], NULL, ft_churn, (void *)(uintptr_t)(32 + 100 * i)) != 0)
			FAIL("fork-threads: pthread_create %d", i);
	for (int round = 0; round < FT_ROUNDS; round++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			FAIL("fork-threads: fork round %d: %s", round, strerror(errno));
		if (pid == 0) {
			for (int i = 0; i < 8; i++) {
				char *p = malloc(64 + 512 * i);
				if (!p)
					_exit(3);
				memset(p, i, 64);
				free(p);
			}
			_exit(0);
		}
		/* The parent's side, right after fork: malloc and free in the thread that forked. */
		char *p = malloc(200 + round);
		if (!p)
			FAIL("fork-threads: malloc after fork round %d", round);
		memset(p, round, 200);
		free(p);
		int status;
		if (waitpid(pid, &status, 0) != pid)
			FAIL("fork-threads: waitpid round %d: %s", round, strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("fork-threads: child of round %d: status 0x%x, expected exit 0", round, status);
	}
	ft_stop = 1;
	for (int i = 0; i < FT_CHURNERS; i++)
		pthread_join(churners[i], NULL);
	printf("hbtest: fork-threads: %d forks of a process with %d threads in malloc/free, both sides "
	       "malloc'd after each\n",
	       FT_ROUNDS, FT_CHURNERS);
	return 0;
}

/* --- amo-rd-rs2: every AMO, rd == rs2, as the first write after fork ------------------------ */

#define AMO_RR(fn, insn)                                                                              \
	static uint64_t fn(void *p, uint64_t v)                                                         \
	{                                                                                               \
		__asm__ volatile(insn " %0, %0, (%1)" : "+r"(v) : "r"(p) : "memory");                   \
		return v;                                                                               \
	}
AMO_RR(rr_swap_w, "amoswap.w")
AMO_RR(rr_swap_w_rl, "amoswap.w.rl")
AMO_RR(rr_add_w, "amoadd.w")
AMO_RR(rr_xor_w, "amoxor.w")
AMO_RR(rr_and_w, "amoand.w")
AMO_RR(rr_or_w, "amoor.w")
AMO_RR(rr_min_w, "amomin.w")
AMO_RR(rr_max_w, "amomax.w")
AMO_RR(rr_minu_w, "amominu.w")
AMO_RR(rr_maxu_w, "amomaxu.w")
AMO_RR(rr_swap_d, "amoswap.d")
AMO_RR(rr_add_d, "amoadd.d.aqrl")
AMO_RR(rr_xor_d, "amoxor.d")
AMO_RR(rr_and_d, "amoand.d")
AMO_RR(rr_or_d, "amoor.d")
AMO_RR(rr_min_d, "amomin.d")
AMO_RR(rr_max_d, "amomax.d")
AMO_RR(rr_minu_d, "amominu.d")
AMO_RR(rr_maxu_d, "amomaxu.d")

struct amo_case {
	const char *insn;
	uint64_t (*run)(void *, uint64_t);
	int bytes;
	uint64_t old, operand, stored; /* memory before, rs2, memory after (rd must read `old`) */
};

/*
 * Each operand is chosen so that op(old, operand) differs from op(old, old): an AMO retried with
 * rd already overwritten stores something else. The .w cells hold negative words, so rd must
 * come back sign-extended.
 */
static const struct amo_case amo_cases[] = {
	{"amoswap.w", rr_swap_w, 4, 0x80000001u, 0x12345678u, 0x12345678u},
	{"amoswap.w.rl", rr_swap_w_rl, 4, 1, 0, 0},
	{"amoadd.w", rr_add_w, 4, 0x80000001u, 0x10, 0x80000011u},
	{"amoxor.w", rr_xor_w, 4, 0x80000001u, 0x0f0f0f0fu, 0x8f0f0f0eu},
	{"amoand.w", rr_and_w, 4, 0x80000001u, 0x0000ffffu, 0x00000001u},
	{"amoor.w", rr_or_w, 4, 0x80000001u, 0x00f00000u, 0x80f00001u},
	{"amomin.w", rr_min_w, 4, 0x80000001u, 0x80000000u, 0x80000000u},
	{"amomax.w", rr_max_w, 4, 0x80000001u, 5, 5},
	{"amominu.w", rr_minu_w, 4, 0x80000001u, 7, 7},
	{"amomaxu.w", rr_maxu_w, 4, 0x80000001u, 0xfffffff0u, 0xfffffff0u},
	{"amoswap.d", rr_swap_d, 8, 0x8000000000000001ull, 0x123456789abcdefull, 0x123456789abcdefull},
	{"amoadd.d.aqrl", rr_add_d, 8, 0x8000000000000001ull, 0x10, 0x8000000000000011ull},
	{"amoxor.d", rr_xor_d, 8, 0x8000000000000001ull, 0xf0f0f0f0f0ull, 0x800000f0f0f0f0f1ull},
	{"amoand.d", rr_and_d, 8, 0x8000000000000001ull, 0xffffull, 1},
	{"amoor.d", rr_or_d, 8, 0x8000000000000001ull, 0xf00000000ull, 0x8000000f00000001ull},
	{"amomin.d", rr_min_d, 8, 0x8000000000000001ull, 0x8000000000000000ull, 0x8000000000000000ull},
	{"amomax.d", rr_max_d, 8, 0x8000000000000001ull, 5, 5},
	{"amominu.d", rr_minu_d, 8, 0x8000000000000001ull, 7, 7},
	{"amomaxu.d", rr_maxu_d, 8, 0x8000000000000001ull, 0xfffffffffffffff0ull, 0xfffffffffffffff0ull},
};
#define AMO_CASES (int)(sizeof amo_cases / sizeof amo_cases[0])

static uint64_t cell_read(const void *p, int bytes)
{
	return bytes == 4 ? *(const volatile uint32_t *)p : *(const volatile uint64_t *)p;
}

/* Run one case on a cell whose page is copy-on-write; 0 if rd and memory are right. */
static int amo_case_check(const struct amo_case *c, void *cell, const char *side)
{
	uint64_t want_rd = c->bytes == 4 ? (uint64_t)(int64_t)(int32_t)(uint32_t)c->old : c->old;
	uint64_t rd = c->run(cell, c->operand);
	uint64_t mem = cell_read(cell, c->bytes);
	if (rd == want_rd && mem == c->stored)
		return 0;
	printf("hbtest: FAIL: amo-rd-rs2: %s (%s, first write after fork, rd == rs2 = %#llx): "
	       "rd %#llx, memory %#llx; expected rd %#llx, memory %#llx\n",
	       c->insn, side, (unsigned long long)c->operand, (unsigned long long)rd, (unsigned long long)mem,
	       (unsigned long long)want_rd, (unsigned long long)c->stored);
	return 1;
}

static int test_amo_rd_rs2(void)
{
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < AMO_CASES; i++) {
		const struct amo_case *c = &amo_cases[i];
		void *cell = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (cell == MAP_FAILED)
			FAIL("amo-rd-rs2: mmap: %s", strerror(errno));
		if (c->bytes == 4)
			*(uint32_t *)cell = (uint32_t)c->old;
		else
			*(uint64_t *)cell = c->old;
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			FAIL("amo-rd-rs2: fork: %s", strerror(errno));
		if (pid == 0)
			_exit(amo_case_check(c, cell, "child"));
		int bad = amo_case_check(c, cell, "parent");
		int status;
		if (waitpid(pid, &status, 0) != pid)
			FAIL("amo-rd-rs2: waitpid: %s", strerror(errno));
		munmap(cell, page);
		if (bad)
			return 1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("amo-rd-rs2: %s in the child: status 0x%x", c->insn, status);
	}
	printf("hbtest: amo-rd-rs2: %d AMOs (every kind, .w and .d) with rd == rs2 as the first write "
	       "after fork, rd and memory right on both sides\n",
	       AMO_CASES);
	return 0;
}

/* --- lrsc: LR/SC across harts, traps and addresses ------------------------------------------ */

static inline uint32_t lr_w(volatile uint32_t *p)
{
	uint32_t v;
	__asm__ volatile("lr.w %0, (%1)" : "=r"(v) : "r"(p) : "memory");
	return v;
}

static inline uint64_t sc_w(volatile uint32_t *p, uint32_t v)
{
	uint64_t fail;
	__asm__ volatile("sc.w %0, %2, (%1)" : "=&r"(fail) : "r"(p), "r"(v) : "memory");
	return fail;
}

#define LRSC_ROUNDS 3000
#define LRSC_RACES 20

static volatile uint32_t lrsc_cell, lrsc_other;
static volatile int race_ready, race_stored;

static int online_cpus(int *cpus, int max)
{
	cpu_set_t online;
	int count = 0;
	if (sched_getaffinity(0, sizeof online, &online) != 0)
		return 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && count < max; cpu++)
		if (CPU_ISSET(cpu, &online))
			cpus[count++] = cpu;
	return count;
}

static void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

struct lrsc_worker {
	pthread_t thread;
	int cpu;
};

static void *lrsc_incrementer(void *arg)
{
	struct lrsc_worker *w = arg;
	pin_to(w->cpu);
	for (int i = 0; i < LRSC_ROUNDS; i++) {
		uint32_t v;
		do
			v = lr_w(&lrsc_cell);
		while (sc_w(&lrsc_cell, v + 1));
	}
	return NULL;
}

/* The other hart: waits for the LR, stores to the reserved word, says so. */
static void *lrsc_breaker(void *arg)
{
	int *cpu = arg;
	pin_to(*cpu);
	for (int round = 0; round < LRSC_RACES; round++) {
		while (__atomic_load_n(&race_ready, __ATOMIC_ACQUIRE) != round + 1)
			;
		lrsc_cell = 1000 + round;
		__atomic_store_n(&race_stored, round + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int test_lrsc(void)
{
	int cpus[8];
	int harts = online_cpus(cpus, 8);
	if (harts < 1)
		FAIL("lrsc: sched_getaffinity: %s", strerror(errno));

	/* Contention: one incrementer per hart (at least two threads), counts must add up. */
	int workers = harts < 2 ? 2 : harts > 4 ? 4 : harts;
	struct lrsc_worker w[4];
	lrsc_cell = 0;
	for (int i = 0; i < workers; i++) {
		w[i].cpu = cpus[i % harts];
		if (pthread_create(&w[i].thread, NULL, lrsc_incrementer, &w[i]) != 0)
			FAIL("lrsc: pthread_create");
	}
	for (int i = 0; i < workers; i++)
		pthread_join(w[i].thread, NULL);
	if (lrsc_cell != (uint32_t)workers * LRSC_ROUNDS)
		FAIL("lrsc: %d threads x %d lr.w/sc.w increments gave %u, expected %u", workers, LRSC_ROUNDS,
		     lrsc_cell, workers * LRSC_ROUNDS);

	/* An SC with no reservation (the last SC consumed it) fails and leaves memory alone. */
	lrsc_cell = 5;
	uint32_t v = lr_w(&lrsc_cell);
	uint64_t first = sc_w(&lrsc_cell, v + 1);
	uint64_t second = sc_w(&lrsc_cell, 77);
	if (first == 0 && (second == 0 || lrsc_cell != 6))
		FAIL("lrsc: an sc.w with no reservation (after a successful sc.w) returned %llu, word %u; "
		     "expected failure and 6",
		     (unsigned long long)second, lrsc_cell);

	/* An SC to another address than the LR's fails, and consumes the reservation. */
	lrsc_cell = 5;
	lrsc_other = 9;
	(void)lr_w(&lrsc_cell);
	uint64_t other = sc_w(&lrsc_other, 42);
	uint64_t after = sc_w(&lrsc_cell, 43);
	if (other == 0 || lrsc_other != 9)
		FAIL("lrsc: sc.w to another address than the lr.w's succeeded (returned 0, word %u)", lrsc_other);
	if (after == 0 || lrsc_cell != 5)
		FAIL("lrsc: sc.w after a failed sc.w to another address succeeded (word %u): the failed SC must "
		     "consume the reservation",
		     lrsc_cell);

	/* A trap between LR and SC (a system call): the kernel's return path clears the reservation. */
	for (int i = 0; i < 20; i++) {
		lrsc_cell = 5;
		(void)lr_w(&lrsc_cell);
		register long a7 __asm__("a7") = SYS_getppid;
		register long a0 __asm__("a0");
		__asm__ volatile("ecall" : "=r"(a0) : "r"(a7) : "memory");
		if (sc_w(&lrsc_cell, 99) == 0)
			FAIL("lrsc: sc.w after a system call between lr.w and sc.w succeeded (word %u); the trap "
			     "return must break the reservation",
			     lrsc_cell);
	}

	/* Another hart stores to the reserved word between our LR and SC: the SC must fail. */
	int me = cpus[0], them = cpus[harts > 1 ? 1 : 0];
	pin_to(me);
	race_ready = race_stored = 0;
	pthread_t breaker;
	if (pthread_create(&breaker, NULL, lrsc_breaker, &them) != 0)
		FAIL("lrsc: pthread_create");
	int wrong = 0;
	for (int round = 0; round < LRSC_RACES; round++) {
		lrsc_cell = 5;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		(void)lr_w(&lrsc_cell);
		__atomic_store_n(&race_ready, round + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&race_stored, __ATOMIC_ACQUIRE) != round + 1)
			;
		if (sc_w(&lrsc_cell, 7) == 0)
			wrong++;
	}
	pthread_join(breaker, NULL);
	if (wrong)
		FAIL("lrsc: sc.w succeeded %d of %d times after another %s stored to the reserved word "
		     "(word now %u)",
		     wrong, LRSC_RACES, harts > 1 ? "hart" : "thread", lrsc_cell);
	printf("hbtest: lrsc: %d threads x %d increments on %d harts; SC fails without reservation, to "
	       "another address, after a trap and after another hart's store\n",
	       workers, LRSC_ROUNDS, harts);
	return 0;
}

/* --- amo-traps: misaligned AMO/LR/SC raise SIGBUS, an AMO on a read-only page SIGSEGV -------- */

static sigjmp_buf trap_jump;
static volatile int trap_signal, trap_code;
static volatile uintptr_t trap_addr;

static void on_trap(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	trap_signal = sig;
	trap_code = info->si_code;
	trap_addr = (uintptr_t)info->si_addr;
	siglongjmp(trap_jump, 1);
}

enum trap_op { T_AMOADD_W, T_AMOSWAP_D, T_LR_W, T_LR_D, T_SC_W, T_SC_D };
static const char *const trap_op_names[] = {"amoadd.w", "amoswap.d", "lr.w", "lr.d", "sc.w", "sc.d"};

/* Runs one instruction on `p`; returns 1 if it completed (rd in *out), 0 if a signal came. */
static int trap_try(enum trap_op op, void *p, uint64_t *out)
{
	trap_signal = 0;
	if (sigsetjmp(trap_jump, 1))
		return 0;
	uint64_t v = 1;
	switch (op) {
	case T_AMOADD_W: __asm__ volatile("amoadd.w %0, %1, (%2)" : "=&r"(v) : "r"(v), "r"(p) : "memory"); break;
	case T_AMOSWAP_D: __asm__ volatile("amoswap.d %0, %1, (%2)" : "=&r"(v) : "r"(v), "r"(p) : "memory"); break;
	case T_LR_W: __asm__ volatile("lr.w %0, (%1)" : "=r"(v) : "r"(p) : "memory"); break;
	case T_LR_D: __asm__ volatile("lr.d %0, (%1)" : "=r"(v) : "r"(p) : "memory"); break;
	case T_SC_W: __asm__ volatile("sc.w %0, %1, (%2)" : "=&r"(v) : "r"(v), "r"(p) : "memory"); break;
	case T_SC_D: __asm__ volatile("sc.d %0, %1, (%2)" : "=&r"(v) : "r"(v), "r"(p) : "memory"); break;
	}
	*out = v;
	return 1;
}

static int test_amo_traps(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *buf = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		FAIL("amo-traps: mmap: %s", strerror(errno));
	static const struct {
		enum trap_op op;
		int offset;
	} misaligned[] = {{T_AMOADD_W, 2}, {T_AMOSWAP_D, 4}, {T_LR_W, 1}, {T_LR_D, 4}, {T_SC_W, 2}, {T_SC_D, 4}};
	for (unsigned i = 0; i < sizeof misaligned / sizeof misaligned[0]; i++) {
		enum trap_op op = misaligned[i].op;
		memset(buf, 0x11, 64);
		uint8_t *p = buf + 16 + misaligned[i].offset;
		uint64_t rd = 0;
		int done = trap_try(op, p, &rd);
		int untouched = 1;
		for (int b = 0; b < 64; b++)
			untouched &= buf[b] == 0x11;
		/* An SC with no reservation may fail without touching memory; nothing may succeed. */
		int sc_failed = (op == T_SC_W || op == T_SC_D) && done && rd != 0 && untouched;
		if (sc_failed)
			continue;
		if (done)
			FAIL("amo-traps: misaligned %s at %p completed (rd %#llx, memory %s); expected SIGBUS",
			     trap_op_names[op], (void *)p, (unsigned long long)rd, untouched ? "untouched" : "written");
		/* (Linux reports the instruction's address in si_addr for misaligned traps.) */
		if (trap_signal != SIGBUS || trap_code != BUS_ADRALN)
			FAIL("amo-traps: misaligned %s at %p: signal %d code %d; expected SIGBUS (BUS_ADRALN)",
			     trap_op_names[op], (void *)p, trap_signal, trap_code);
		if (!untouched)
			FAIL("amo-traps: misaligned %s at %p raised SIGBUS but wrote memory", trap_op_names[op], (void *)p);
	}
	/* An AMO on a read-only page: SIGSEGV, the word untouched. */
	*(uint64_t *)buf = 1234;
	if (mprotect(buf, page, PROT_READ) != 0)
		FAIL("amo-traps: mprotect: %s", strerror(errno));
	for (enum trap_op op = T_AMOADD_W; op <= T_AMOSWAP_D; op++) {
		uint64_t rd = 0;
		if (trap_try(op, buf, &rd))
			FAIL("amo-traps: %s on a read-only page completed (rd %#llx, word now %llu)", trap_op_names[op],
			     (unsigned long long)rd, (unsigned long long)*(uint64_t *)buf);
		if (trap_signal != SIGSEGV || trap_code != SEGV_ACCERR || trap_addr != (uintptr_t)buf)
			FAIL("amo-traps: %s on a read-only page: signal %d code %d address %#lx; expected SIGSEGV "
			     "(SEGV_ACCERR) at %p",
			     trap_op_names[op], trap_signal, trap_code, (unsigned long)trap_addr, (void *)buf);
		if (*(uint64_t *)buf != 1234)
			FAIL("amo-traps: %s on a read-only page faulted but changed the word to %llu", trap_op_names[op],
			     (unsigned long long)*(uint64_t *)buf);
	}
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	munmap(buf, page);
	printf("hbtest: amo-traps: misaligned AMO/LR raise SIGBUS (SC: SIGBUS or failure), AMOs on a "
	       "read-only page SIGSEGV, memory untouched\n");
	return 0;
}

/* --- wakeup: timers and IPIs across harts --------------------------------------------------- */

#define WAKE_NAP_NS (30 * 1000 * 1000)
#define WAKE_ROUNDS 8
#define WAKE_LATENCY_NS (500 * 1000 * 1000LL)

struct napper {
	pthread_t thread;
	int cpu;
	int64_t shortest, longest;
};

static void *wake_napper(void *arg)
{
	struct napper *n = arg;
	pin_to(n->cpu);
	n->shortest = INT64_MAX;
	for (int i = 0; i < 3; i++) {
		struct timespec nap = {0, WAKE_NAP_NS};
		int64_t start = now_ns();
		nanosleep(&nap, NULL);
		int64_t took = now_ns() - start;
		if (took < n->shortest)
			n->shortest = took;
		if (took > n->longest)
			n->longest = took;
	}
	return NULL;
}

static int ipi_to[2], ipi_back[2];

/* On the far hart: block in read (the hart idles in wfi), answer with the time it woke. */
static void *wake_sleeper(void *arg)
{
	pin_to(*(int *)arg);
	for (int i = 0; i < WAKE_ROUNDS; i++) {
		char c;
		if (read(ipi_to[0], &c, 1) != 1)
			return NULL;
		int64_t woke = now_ns();
		if (write(ipi_back[1], &woke, sizeof woke) != sizeof woke)
			return NULL;
	}
	return NULL;
}

/* The timer interrupts taken so far, all harts (the riscv-timer line of /proc/interrupts). */
static long long timer_interrupts(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	if (!f)
		return -1;
	char line[1024];
	long long total = -1;
	while (fgets(line, sizeof line, f)) {
		if (!strstr(line, "riscv-timer"))
			continue;
		char *p = strchr(line, ':');
		total = 0;
		while (p && *++p) {
			char *end;
			long long n = strtoll(p, &end, 10);
			if (end == p)
				break;
			total += n;
			p = end - 1;
		}
	}
	fclose(f);
	return total;
}

static volatile sig_atomic_t rearm_alarms;

static void on_rearm_alarm(int sig)
{
	(void)sig;
	rearm_alarms++;
}

static int test_wakeup(void)
{
	int cpus[8];
	int harts = online_cpus(cpus, 8);
	if (harts < 1)
		FAIL("wakeup: sched_getaffinity: %s", strerror(errno));

	/* nanosleep on every hart at once. */
	struct napper nappers[8];
	for (int i = 0; i < harts; i++) {
		nappers[i] = (struct napper){.cpu = cpus[i]};
		if (pthread_create(&nappers[i].thread, NULL, wake_napper, &nappers[i]) != 0)
			FAIL("wakeup: pthread_create");
	}
	for (int i = 0; i < harts; i++)
		pthread_join(nappers[i].thread, NULL);
	for (int i = 0; i < harts; i++)
		if (nappers[i].shortest < WAKE_NAP_NS || nappers[i].longest > 20 * WAKE_NAP_NS)
			FAIL("wakeup: nanosleep(30 ms) on hart %d took %lld to %lld ns", nappers[i].cpu,
			     (long long)nappers[i].shortest, (long long)nappers[i].longest);

	/* An idle hart woken by another: the write's wake-up is an IPI to a hart in wfi. */
	int far = cpus[harts - 1];
	pin_to(cpus[0]);
	if (pipe(ipi_to) != 0 || pipe(ipi_back) != 0)
		FAIL("wakeup: pipe: %s", strerror(errno));
	pthread_t sleeper;
	if (pthread_create(&sleeper, NULL, wake_sleeper, &far) != 0)
		FAIL("wakeup: pthread_create");
	int64_t worst = 0;
	for (int i = 0; i < WAKE_ROUNDS; i++) {
		struct timespec settle = {0, 20 * 1000 * 1000}; /* the far hart goes idle meanwhile */
		nanosleep(&settle, NULL);
		int64_t sent = now_ns();
		if (write(ipi_to[1], "x", 1) != 1)
			FAIL("wakeup: write: %s", strerror(errno));
		int64_t woke;
		if (read(ipi_back[0], &woke, sizeof woke) != sizeof woke)
			FAIL("wakeup: read: %s", strerror(errno));
		if (woke - sent > worst)
			worst = woke - sent;
	}
	pthread_join(sleeper, NULL);
	if (worst > WAKE_LATENCY_NS)
		FAIL("wakeup: a thread blocked on hart %d woke %lld ms after hart %d wrote to its pipe (limit %lld "
		     "ms): the idle hart was not woken by the IPI",
		     far, (long long)(worst / 1000000), cpus[0], WAKE_LATENCY_NS / 1000000);

	/* mtimecmp rewritten: a 10 s timer re-armed to 40 ms fires at 40 ms; then an idle stretch must
	 * not be a storm of timer interrupts (a compare write that leaves the old one pending). */
	signal(SIGALRM, on_rearm_alarm);
	struct itimerval far_off = {{0, 0}, {10, 0}}, soon = {{0, 0}, {0, 40000}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &far_off, NULL);
	int64_t start = now_ns();
	setitimer(ITIMER_REAL, &soon, NULL);
	while (!rearm_alarms)
		pause();
	int64_t fired = now_ns() - start;
	setitimer(ITIMER_REAL, &off, NULL);
	if (fired < 40 * 1000 * 1000 || fired > 5000LL * 1000 * 1000)
		FAIL("wakeup: a 10 s timer re-armed to 40 ms fired after %lld ms", (long long)(fired / 1000000));
	long long before = timer_interrupts();
	struct timespec idle = {0, 300 * 1000 * 1000};
	int64_t idle_start = now_ns();
	nanosleep(&idle, NULL);
	int64_t idle_ns = now_ns() - idle_start;
	long long after = timer_interrupts();
	/* At most one tick per hart per ms (HZ <= 1000), plus the sleeps' own wake-ups. */
	long long limit = (long long)harts * (idle_ns / 1000000 + 1) + 100;
	if (before >= 0 && after - before > limit)
		FAIL("wakeup: %lld timer interrupts on %d harts in %lld ms of idle (limit %lld): a timer interrupt "
		     "storm, the compare write did not clear the pending timer",
		     after - before, harts, (long long)(idle_ns / 1000000), limit);
	printf("hbtest: wakeup: nanosleep on %d harts, idle hart %d woken within %lld ms (worst of %d), "
	       "re-armed timer after %lld ms, %lld timer interrupts in %lld ms idle\n",
	       harts, far, (long long)(worst / 1000000), WAKE_ROUNDS, (long long)(fired / 1000000),
	       before >= 0 ? after - before : -1LL, (long long)(idle_ns / 1000000));
	return 0;
}

/* --- mem-perms: execute-only pages, MXR, mprotect and remapping (sfence.vma) ---------------- */

#define RV_LI_A0(n) (0x00000513u | ((uint32_t)(n) << 20)) /* addi a0, zero, n */
#define RV_RET 0x00008067u                                 /* jalr zero, 0(ra) */

typedef long (*jit_fn)(void);

struct remap_reader {
	pthread_t thread;
	int cpu;
	volatile uint64_t *cell;
	int stale;
};

static volatile int remap_generation, remap_seen[8];

/* On another hart: keep the page in this hart's TLB; after each remap, read the new value. */
static void *remap_reader(void *arg)
{
	struct remap_reader *r = arg;
	pin_to(r->cpu);
	for (int gen = 1; gen <= 10; gen++) {
		while (__atomic_load_n(&remap_generation, __ATOMIC_ACQUIRE) < gen)
			(void)*r->cell;
		if (*r->cell != (uint64_t)gen)
			r->stale++;
		__atomic_store_n(&remap_seen[r->cpu & 7], gen, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int test_mem_perms(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	long page = sysconf(_SC_PAGESIZE);

	/* Execute-only: it runs, user loads fault, and the kernel (MXR clear) cannot read it either. */
	uint32_t *code = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		FAIL("mem-perms: mmap: %s", strerror(errno));
	code[0] = RV_LI_A0(42);
	code[1] = RV_RET;
	if (mprotect(code, page, PROT_EXEC) != 0)
		FAIL("mem-perms: mprotect(PROT_EXEC): %s", strerror(errno));
	__builtin___clear_cache((char *)code, (char *)(code + 2));
	long ran = ((jit_fn)(uintptr_t)code)();
	if (ran != 42)
		FAIL("mem-perms: code on an execute-only page returned %ld, expected 42", ran);
	trap_signal = 0;
	volatile uint32_t seen = 0;
	if (!sigsetjmp(trap_jump, 1))
		seen = *(volatile uint32_t *)code;
	if (trap_signal != SIGSEGV)
		FAIL("mem-perms: a user load from an execute-only page read %#x instead of raising SIGSEGV", seen);
	int fds[2];
	if (pipe(fds) != 0)
		FAIL("mem-perms: pipe: %s", strerror(errno));
	ssize_t put = write(fds[1], code, 8);
	if (put >= 0 || errno != EFAULT)
		FAIL("mem-perms: write(2) from an execute-only page returned %zd (%s); expected EFAULT: the "
		     "kernel's load went through with MXR clear",
		     put, put >= 0 ? "copied" : strerror(errno));
	close(fds[0]);
	close(fds[1]);
	munmap(code, page);

	/* mprotect to read-only: a store right after must fault, the TLB's writable entry is gone. */
	volatile uint64_t *cell = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cell == MAP_FAILED)
		FAIL("mem-perms: mmap: %s", strerror(errno));
	for (int i = 0; i < 100; i++)
		*cell = (uint64_t)i;
	if (mprotect((void *)cell, page, PROT_READ) != 0)
		FAIL("mem-perms: mprotect: %s", strerror(errno));
	trap_signal = 0;
	if (!sigsetjmp(trap_jump, 1))
		*cell = 1234;
	if (trap_signal != SIGSEGV || *cell != 99)
		FAIL("mem-perms: a store after mprotect(PROT_READ) %s (word %llu): sfence.vma did not drop the "
		     "writable translation",
		     trap_signal == SIGSEGV ? "faulted" : "went through", (unsigned long long)*cell);
	signal(SIGSEGV, SIG_DFL);

	/* Remap the page under readers on every hart: each must see the new page's value. */
	int cpus[8];
	int harts = online_cpus(cpus, 8);
	struct remap_reader readers[8];
	remap_generation = 0;
	memset((void *)remap_seen, 0, sizeof remap_seen);
	int nreaders = harts > 1 ? harts - 1 : 1;
	for (int i = 0; i < nreaders; i++) {
		readers[i] = (struct remap_reader){.cpu = cpus[harts > 1 ? i + 1 : 0], .cell = cell};
		if (pthread_create(&readers[i].thread, NULL, remap_reader, &readers[i]) != 0)
			FAIL("mem-perms: pthread_create");
	}
	int local_stale = 0;
	for (int gen = 1; gen <= 10; gen++) {
		for (int i = 0; i < 50; i++)
			(void)*cell; /* in this hart's TLB too */
		void *fresh = mmap((void *)cell, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				   -1, 0);
		if (fresh != (void *)cell)
			FAIL("mem-perms: mmap MAP_FIXED: %s", strerror(errno));
		if (*cell != 0)
			local_stale++;
		*cell = (uint64_t)gen;
		__atomic_store_n(&remap_generation, gen, __ATOMIC_RELEASE);
		for (int i = 0; i < nreaders; i++)
			while (__atomic_load_n(&remap_seen[readers[i].cpu & 7], __ATOMIC_ACQUIRE) < gen)
				sched_yield();
	}
	int stale = 0;
	for (int i = 0; i < nreaders; i++) {
		pthread_join(readers[i].thread, NULL);
		stale += readers[i].stale;
	}
	munmap((void *)cell, page);
	if (local_stale || stale)
		FAIL("mem-perms: after mmap MAP_FIXED over a page, %d of 10 reads on the remapping hart and %d of %d "
		     "on other harts saw the old page (sfence.vma / remote fence missing)",
		     local_stale, stale, 10 * nreaders);
	printf("hbtest: mem-perms: execute-only page runs, faults user loads and kernel reads (EFAULT); "
	       "mprotect and 10 remaps seen at once on %d harts\n",
	       harts);
	return 0;
}

/* --- jit: write code, fence.i, run, rewrite, run --------------------------------------------- */

#define JIT_ROUNDS 40

static volatile int jit_round, jit_done;
static volatile long jit_wrong, jit_last;

static void *jit_far_caller(void *arg)
{
	uint32_t *code = arg;
	for (int round = 1; round <= JIT_ROUNDS; round++) {
		while (__atomic_load_n(&jit_round, __ATOMIC_ACQUIRE) < round)
			;
		long got = ((jit_fn)(uintptr_t)code)();
		if (got != round) {
			jit_wrong++;
			jit_last = got;
		}
		__atomic_store_n(&jit_done, round, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int test_jit(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t *code = mmap(NULL, page, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		FAIL("jit: mmap RWX: %s", strerror(errno));
	int cpus[8];
	int harts = online_cpus(cpus, 8);
	pin_to(cpus[0]);
	code[0] = RV_LI_A0(0);
	code[1] = RV_RET;
	__builtin___clear_cache((char *)code, (char *)(code + 2));
	pthread_t far;
	int far_cpu = cpus[harts - 1];
	jit_round = jit_done = 0;
	if (pthread_create(&far, NULL, jit_far_caller, code) != 0)
		FAIL("jit: pthread_create");
	for (int round = 1; round <= JIT_ROUNDS; round++) {
		/* Warm this hart's view of the old code, then rewrite it. */
		long old = ((jit_fn)(uintptr_t)code)();
		code[0] = RV_LI_A0(round);
		__builtin___clear_cache((char *)code, (char *)(code + 2)); /* fence.i here and on every hart */
		long got = ((jit_fn)(uintptr_t)code)();
		if (old != round - 1 || got != round)
			FAIL("jit: round %d: the code returned %ld before and %ld after rewriting it and fence.i, "
			     "expected %d and %d",
			     round, old, got, round - 1, round);
		__atomic_store_n(&jit_round, round, __ATOMIC_RELEASE);
		while (__atomic_load_n(&jit_done, __ATOMIC_ACQUIRE) < round)
			sched_yield();
	}
	pthread_join(far, NULL);
	if (jit_wrong)
		FAIL("jit: on hart %d the rewritten code returned the old value %ld times (last %ld)", far_cpu,
		     (long)jit_wrong, (long)jit_last);
	munmap(code, page);
	printf("hbtest: jit: %d rewrites with fence.i, each run right on hart %d and hart %d\n", JIT_ROUNDS,
	       cpus[0], far_cpu);
	return 0;
}

/* --- dispatch ------------------------------------------------------------------------------- */

struct test {
	const char *name;
	int (*run)(void);
};

static const struct test wedges[] = {
	{"wedge-spin", wedge_spin}, {"wedge-kernel", wedge_kernel}, {"wedge-hung-task", wedge_hung_task},
};
#define NWEDGES (int)(sizeof wedges / sizeof wedges[0])

/* --- dispatch ------------------------------------------------------------------------------- */
/*
 * A watchdog thread: a test that deadlocks (the semu bug leaves glibc's malloc lock taken, the
 * next fork waits on it forever) says which test hung and exits, in guest time, instead of
 * leaving the harness to wait out its silence limit. Only write(2) and _exit here: the stuck
 * thread may hold stdio's or malloc's lock.
 */
static const char *watched;
static int watchdog_limit;

static void *watchdog(void *arg)
{
	(void)arg;
	struct timespec limit = {watchdog_limit, 0};
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &limit, &limit) == EINTR)
		;
	char line[160];
	int n = snprintf(line, sizeof line, "hbtest: FAIL: %s: still running after %d s: hung\n", watched,
			 watchdog_limit);
	if (write(1, line, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

static void start_watchdog(const char *name, int seconds)
{
	pthread_t thread;
	watched = name;
	watchdog_limit = seconds;
	if (pthread_create(&thread, NULL, watchdog, NULL) == 0)
		pthread_detach(thread);
}

static const struct test tests[] = {
	{"fork-exec", test_fork_exec}, {"amo", test_amo}, {"amo-cow", test_amo_cow},
	{"timers", test_timers},       {"pinned", test_pinned},
	/* issue 21: the bug classes emulator developers hit */
	{"fork-threads", test_fork_threads}, {"amo-rd-rs2", test_amo_rd_rs2}, {"lrsc", test_lrsc},
	{"amo-traps", test_amo_traps},       {"wakeup", test_wakeup},         {"mem-perms", test_mem_perms},
	{"jit", test_jit},
};
#define NTESTS (int)(sizeof tests / sizeof tests[0])

/* The tests watched for hangs (guest seconds; each takes well under 5 on every board). */
static const char *const watched_tests[] = {"fork-threads", "amo-rd-rs2", "lrsc", "amo-traps",
					    "wakeup",       "mem-perms",  "jit"};
#define WATCHDOG_S 30

static int is_watched(const char *name)
{
	for (unsigned i = 0; i < sizeof watched_tests / sizeof watched_tests[0]; i++)
		if (strcmp(name, watched_tests[i]) == 0)
			return 1;
	return 0;
}

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
		if (!all && is_watched(tests[i].name))
			start_watchdog(tests[i].name, WATCHDOG_S);
		int status = tests[i].run();
		if (!all || status != 0)
			return status;
	}
	if (all)
		return 0;
	printf("hbtest: no test named '%s' (hbtest list)\n", argv[1]);
	return 2;
}
