#include "drivers.h"

#include <stdint.h>

#include "build.h"
#include "console.h"
#include "lib.h"
#include "panic.h"
#include "riscv.h"

#define QRVFS_MAGIC 0x51525646u /* "QRVF" */
#define STUB_SIZE 8
#define NUM_STUBS 8

struct qrvfs_super {
	uint32_t magic;
	uint32_t version;
	uint32_t blocks;
	uint32_t inodes;
};

extern const uint8_t prog_stubs[];

/* One page reused by every exec, so stale instruction fetch would run the previous program. */
static uint8_t text_page[4096] __attribute__((aligned(4096)));

void nvme_probe(void)
{
	if (build.nvme_timeout)
		panic("devb-nvme: controller timeout");
}

/* The namespace is synthesised: block 0 of partition 8 holds the superblock. */
static void nvme_read_super(struct qrvfs_super *sb)
{
	sb->magic = build.fault == FAULT_PANIC ? 0xdeadbeefu : QRVFS_MAGIC;
	sb->version = 2;
	sb->blocks = 4096;
	sb->inodes = 128;
}

void qrvfs_mount(const char *dev, const char *dir)
{
	struct qrvfs_super sb;

	nvme_read_super(&sb);
	if (sb.magic != QRVFS_MAGIC)
		panic("fs-qrv: bad superblock magic 0x%x", sb.magic);
	kprintf("fs-qrv: qrvfs v%u, %u blocks, %u inodes\n", sb.version, sb.blocks, sb.inodes);
	kprintf("fs-qrv: mounted qrvfs at %s (dev=%s)\n", dir, dev);
}

void loader_exec(const char *name, unsigned prog)
{
	long (*entry)(void) = (long (*)(void))(uintptr_t)text_page;
	long got;

	if (prog >= NUM_STUBS)
		panic("exec: %s: no such program %u", name, prog);
	memcpy(text_page, prog_stubs + STUB_SIZE * prog, STUB_SIZE);
	/*
	 * The U74 does not snoop stores into its I-cache: without fence.i the
	 * hart may run the page's old contents. QEMU keeps no I-cache, so the
	 * nofence fault boots fine there and only real silicon catches it.
	 */
	if (build.fault != FAULT_NOFENCE)
		fence_i();
	got = entry();
	if (got != (long)prog)
		panic("exec: %s: text returned %ld, expected %u (stale I-cache?)", name, got, prog);
}
