/* Just enough of a flattened-device-tree walk to read /chosen/bootargs and count CPUs. */
#ifndef QSOE_FDT_H
#define QSOE_FDT_H

#include <stdbool.h>

struct fdt_info {
	const char *bootargs; /* "" when absent */
	unsigned ncpus;       /* /cpus/cpu@N nodes; 0 when unknown */
};

/* Returns false (and an empty info) when blob is not a sane FDT. */
bool fdt_scan(const void *blob, struct fdt_info *info);

#endif
