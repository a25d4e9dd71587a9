/* init on hart 0: the boot sequence from the field report, with the injected faults. */
#include <stdint.h>

#include "build.h"
#include "console.h"
#include "drivers.h"
#include "fdt.h"
#include "lib.h"
#include "panic.h"
#include "riscv.h"
#include "taskman.h"

/*
 * How long hart 0 waits for the others, as Linux waits a second for each CPU it brings up: a
 * hart that is merely late (QEMU's vCPU thread on a loaded host can start 100 ms after the first)
 * must not be taken for a missing one; a missing one still ends in the panic below.
 */
#define HART_WAIT_TICKS MTIME_HZ
#define HART_POLL_TICKS (MTIME_HZ / 10000)
#define STALL_PERIOD_TICKS (MTIME_HZ / 500)

void __attribute__((noreturn)) hart0_main(unsigned long hart, const void *dtb);
void __attribute__((noreturn)) secondary_main(unsigned long hart, const void *dtb);
void __attribute__((noreturn)) shell_run(void);

/* Bumped by each hart as it comes up; start.S also counts parked extra harts. */
uint32_t harts_up;

enum prog { PROG_SLOGGER = 1, PROG_PCI, PROG_NVME, PROG_FSQRV, PROG_LEVEL1 };

static unsigned wait_for_harts(unsigned expected)
{
	uint64_t deadline = mtime() + HART_WAIT_TICKS;

	/* Sleep between looks so a single-threaded emulator gets to run the other harts. */
	while (__atomic_load_n(&harts_up, __ATOMIC_ACQUIRE) < expected && mtime() < deadline)
		sleep_ticks(HART_POLL_TICKS);
	return __atomic_load_n(&harts_up, __ATOMIC_ACQUIRE);
}

static long spawn(const char *name, unsigned prog)
{
	long pid = tm_call(TM_REQ_SPAWN, name, 0);

	loader_exec(name, prog);
	proc_mark_running(pid);
	kprintf("spawn: %s\n", name);
	return pid;
}

/*
 * The culprit change: init grabs proc_lock to reserve the child's slot
 * before taskman has answered, then wants tm_lock, which taskman holds
 * while it waits for proc_lock. Both harts spin forever, silently.
 */
static long spawn_reserving_slot(const char *name, unsigned prog)
{
	long pid;

	spin_lock(&proc_lock);
	tm_post(TM_REQ_SPAWN, name, 0);
	tm_wait(MSG_ACCEPTED);
	spin_lock_lrsc(&tm_lock);
	spin_unlock(&proc_lock);
	spin_unlock(&tm_lock);
	tm_wait(MSG_DONE);
	pid = tm_collect();
	loader_exec(name, prog);
	proc_mark_running(pid);
	kprintf("spawn: %s\n", name);
	return pid;
}

static bool should_wedge(const struct fdt_info *fi)
{
	uint64_t seed;

	switch (build.fault) {
	case FAULT_WEDGE:
		return true;
	case FAULT_FLAKY:
		/* Hashed so that seed=N and seed=N+1 are independent draws. */
		if (!cmdline_u64(fi->bootargs, "seed", &seed))
			seed = mtime();
		return mix64(seed) % 100 < build.flaky_percent;
	default:
		return false;
	}
}

/* The stall fault: a request loop that never converges, throttled so the log stays readable. */
static void __attribute__((noreturn)) mmap_storm(void)
{
	for (unsigned long n = 0;; n++) {
		tm_call(TM_REQ_MMAP, 0, n);
		sleep_ticks(STALL_PERIOD_TICKS);
	}
}

static void run_level1(const struct fdt_info *fi)
{
	const char *script = "/usr/sbin/sysinit/level1.sh";

	tm_call(TM_REQ_ACCESS, script, 0);
	if (should_wedge(fi))
		spawn_reserving_slot("level1.sh", PROG_LEVEL1);
	else
		spawn("level1.sh", PROG_LEVEL1);
	tm_call(TM_REQ_CONNECT, "/dev/slog", 0);
	kprintf("[init] level1 done\n");
}

void hart0_main(unsigned long hart, const void *dtb)
{
	struct fdt_info fi;
	unsigned harts;

	console_init();
	__atomic_fetch_add(&harts_up, 1, __ATOMIC_RELEASE);
	fdt_scan(dtb, &fi);
	harts = wait_for_harts(fi.ncpus ? fi.ncpus : MAX_HARTS);
	kprintf("QSOE/sim v0.%u (build %s) hart%lu up, %u harts\n", build.number, build.id, hart, harts);
	if (harts < MAX_HARTS)
		panic("taskman needs hart %u, only %u hart(s) up", TASKMAN_HART, harts);

	kprintf("[init] starting taskman\n");
	spawn("slogger", PROG_SLOGGER);
	spawn("pci-server", PROG_PCI);
	current_comm = "devb-nvme";
	spawn("devb-nvme", PROG_NVME);
	nvme_probe();
	current_comm = "fs-qrv";
	spawn("fs-qrv", PROG_FSQRV);

	kprintf("[init] mounting /dev/nvme0n1p8 at /usr...\n");
	qrvfs_mount("/dev/nvme0n1p8", "/usr");
	current_comm = "init";
	tm_set_trace(true);
	if (build.fault == FAULT_STALL)
		mmap_storm();
	run_level1(&fi);
	tm_set_trace(false);
	shell_run();
}

void secondary_main(unsigned long hart, const void *dtb)
{
	(void)dtb;
	__atomic_fetch_add(&harts_up, 1, __ATOMIC_RELEASE);
	if (hart == TASKMAN_HART)
		taskman_main();
	halt();
}
