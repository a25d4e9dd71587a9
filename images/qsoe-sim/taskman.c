#include "taskman.h"

#include <stdint.h>

#include "build.h"
#include "console.h"
#include "lib.h"
#include "riscv.h"

#define MAX_PROCS 16
#define MMAP_BASE 0x40000000UL

struct tm_msg {
	enum tm_code code;
	const char *arg;
	unsigned long val;
	long result;
	uint32_t state;
};

struct proc {
	long pid;
	const char *name;
	bool running;
};

spinlock_t tm_lock = SPINLOCK_INIT;
spinlock_t proc_lock = SPINLOCK_INIT;
volatile unsigned long taskman_idle_instret;

static struct tm_msg mbox;
static struct proc procs[MAX_PROCS];
static long next_pid = 2; /* init is pid 1 */
static volatile bool trace_on;

static void set_state(enum tm_state s)
{
	__atomic_store_n(&mbox.state, (uint32_t)s, __ATOMIC_RELEASE);
}

static enum tm_state get_state(void)
{
	return (enum tm_state)__atomic_load_n(&mbox.state, __ATOMIC_ACQUIRE);
}

/*
 * Harts wait for each other in wfi and wake through the CLINT doorbell
 * (msip) rather than spinning: QEMU then idles, and an emulator that
 * schedules harts coarsely (or QEMU -icount) still makes progress.
 */
static void ring(unsigned hart)
{
	mmio_write32(CLINT_MSIP(hart), 1);
}

void tm_set_trace(bool on)
{
	trace_on = on;
}

void tm_post(enum tm_code code, const char *arg, unsigned long val)
{
	mbox.code = code;
	mbox.arg = arg;
	mbox.val = val;
	set_state(MSG_POSTED);
	ring(TASKMAN_HART);
}

void tm_wait(enum tm_state state)
{
	/* MSIE only while waiting: a late doorbell must not turn init's other wfi sleeps into spins. */
	csr_set(mie, MIE_MSIE);
	for (;;) {
		/* Clear before looking, so a reply racing with us still ends the wfi. */
		mmio_write32(CLINT_MSIP(INIT_HART), 0);
		if (get_state() == state)
			break;
		wfi();
	}
	csr_clear(mie, MIE_MSIE);
}

long tm_collect(void)
{
	long r = mbox.result;

	set_state(MSG_FREE);
	return r;
}

long tm_call(enum tm_code code, const char *arg, unsigned long val)
{
	tm_post(code, arg, val);
	tm_wait(MSG_DONE);
	return tm_collect();
}

static const char *code_name(enum tm_code code)
{
	switch (code) {
	case TM_REQ_CONNECT:
		return "TM_REQ_CONNECT";
	case TM_REQ_SPAWN:
		return "TM_REQ_SPAWN";
	case TM_REQ_MMAP:
		return "TM_REQ_MMAP";
	case TM_REQ_ACCESS:
		return "TM_REQ_ACCESS";
	}
	return "TM_REQ_?";
}

static void trace(const struct tm_msg *m)
{
	char detail[64];

	if (!trace_on)
		return;
	switch (m->code) {
	case TM_REQ_ACCESS:
		ksnprintf(detail, sizeof(detail), "[ -x %s ]", m->arg);
		break;
	case TM_REQ_SPAWN:
		ksnprintf(detail, sizeof(detail), "exec %s", m->arg);
		break;
	case TM_REQ_MMAP:
		ksnprintf(detail, sizeof(detail), "addr=0x%lx len=4096 n=%lu", MMAP_BASE + 4096 * m->val, m->val);
		break;
	default:
		ksnprintf(detail, sizeof(detail), "%s", m->arg);
		break;
	}
	kprintf("tm_msg 0x%03x   <- %-16s%s\n", (unsigned)m->code, code_name(m->code), detail);
}

/* Called with tm_lock held, as every taskman request handler is. */
static long do_spawn(const char *name)
{
	long pid = -1;

	spin_lock(&proc_lock);
	for (int i = 0; i < MAX_PROCS; i++) {
		if (!procs[i].pid) {
			procs[i].pid = pid = next_pid++;
			procs[i].name = name;
			break;
		}
	}
	spin_unlock(&proc_lock);
	return pid;
}

/*
 * The ipcwait fault: the server asks its client to acknowledge the connection before replying,
 * while the client waits for the reply. Each sleeps in wfi until the other rings: nobody does.
 * Not inlined, so a hang names it.
 */
static volatile bool client_acked;

static void __attribute__((noinline)) tm_wait_client(void)
{
	for (;;) {
		mmio_write32(CLINT_MSIP(TASKMAN_HART), 0);
		if (client_acked)
			return;
		wfi();
	}
}

static long handle(const struct tm_msg *m)
{
	switch (m->code) {
	case TM_REQ_SPAWN:
		return do_spawn(m->arg);
	case TM_REQ_MMAP:
		return (long)(MMAP_BASE + 4096 * m->val);
	case TM_REQ_CONNECT:
		if (build.fault == FAULT_IPCWAIT)
			tm_wait_client();
		return 0;
	case TM_REQ_ACCESS:
		return 0;
	}
	return -1;
}

void proc_mark_running(long pid)
{
	spin_lock_lrsc(&tm_lock);
	spin_lock(&proc_lock);
	for (int i = 0; i < MAX_PROCS; i++) {
		if (procs[i].pid == pid)
			procs[i].running = true;
	}
	spin_unlock(&proc_lock);
	spin_unlock(&tm_lock);
}

void taskman_main(void)
{
	csr_set(mie, MIE_MSIE);
	for (;;) {
		/* Clear the doorbell before looking, as in tm_wait(). */
		mmio_write32(CLINT_MSIP(TASKMAN_HART), 0);
		if (get_state() != MSG_POSTED) {
			taskman_idle_instret = csr_read(minstret);
			wfi();
			continue;
		}
		spin_lock_lrsc(&tm_lock);
		trace(&mbox);
		set_state(MSG_ACCEPTED);
		ring(INIT_HART);
		mbox.result = handle(&mbox);
		spin_unlock(&tm_lock);
		set_state(MSG_DONE);
		ring(INIT_HART);
	}
}
