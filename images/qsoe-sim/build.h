/*
 * Everything that differs between builds of a series. Only build.c sees
 * the -D flags, so a series recompiles one tiny file per build.
 */
#ifndef QSOE_BUILD_H
#define QSOE_BUILD_H

#include <stdbool.h>

enum fault {
	FAULT_NONE,
	FAULT_WEDGE,   /* lock-order deadlock when spawning level1.sh */
	FAULT_PANIC,   /* corrupt superblock: panic at mount */
	FAULT_STALL,   /* endless taskman trace, never reaches login */
	FAULT_FLAKY,   /* FAULT_WEDGE on flaky_percent % of seeds */
	FAULT_NOFENCE, /* loader skips fence.i (harmless on QEMU) */
	FAULT_IPCWAIT, /* taskman waits on init, which waits on taskman: both harts idle in wfi */
};

struct build_info {
	unsigned number;
	const char *id;
	enum fault fault;
	unsigned flaky_percent;
	bool nvme_timeout; /* unrelated panic in devb-nvme, independent of the fault */
};

extern const struct build_info build;

#endif
