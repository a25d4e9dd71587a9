/*
 * taskman: the process manager, running alone on hart 1. init (hart 0)
 * talks to it through a one-slot mailbox in shared memory and wakes it
 * with a CLINT software interrupt.
 */
#ifndef QSOE_TASKMAN_H
#define QSOE_TASKMAN_H

#include <stdbool.h>

#include "lock.h"

enum tm_code {
	TM_REQ_CONNECT = 0x104,
	TM_REQ_SPAWN = 0x11b,
	TM_REQ_MMAP = 0x200,
	TM_REQ_ACCESS = 0x30b,
};

/* Mailbox life cycle; init is the only client, so one slot is enough. */
enum tm_state {
	MSG_FREE,
	MSG_POSTED,   /* written by init */
	MSG_ACCEPTED, /* taskman holds tm_lock and has traced the request */
	MSG_DONE,     /* result valid, taskman dropped its locks */
};

/* Lock order is tm_lock, then proc_lock. Taking them the other way round is the injected wedge. */
extern spinlock_t tm_lock;
extern spinlock_t proc_lock;

void __attribute__((noreturn)) taskman_main(void);

void tm_post(enum tm_code code, const char *arg, unsigned long val);
void tm_wait(enum tm_state state);
/* Result of the DONE message; frees the slot. */
long tm_collect(void);
/* post + wait for DONE + collect. */
long tm_call(enum tm_code code, const char *arg, unsigned long val);
void tm_set_trace(bool on);

/* init's half of a spawn: mark the child running in the process table. */
void proc_mark_running(long pid);

/* Last minstret hart 1 saw before going idle (QEMU: meaningful with -icount). */
extern volatile unsigned long taskman_idle_instret;

#endif
