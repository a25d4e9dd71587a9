#include "fdt.h"

#include <stdint.h>

#include "lib.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u
/* Deep enough for /cpus/cpu@N; deeper nodes are walked but not named. */
#define MAX_DEPTH 8

/* The blob is big-endian and only 4-byte aligned. */
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t align4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

bool fdt_scan(const void *blob, struct fdt_info *info)
{
	const uint8_t *base = blob;
	const char *names[MAX_DEPTH] = { 0 };
	uint32_t off, end, strings;
	int depth = 0;

	info->bootargs = "";
	info->ncpus = 0;
	/* DRAM starts at 0x80000000 on virt; anything else is not a DTB we were handed. */
	if ((uintptr_t)blob < 0x80000000UL || ((uintptr_t)blob & 3) || be32(base) != FDT_MAGIC)
		return false;
	off = be32(base + 8);
	strings = be32(base + 12);
	end = off + be32(base + 36);

	while (off + 4 <= end) {
		uint32_t token = be32(base + off);

		off += 4;
		switch (token) {
		case FDT_BEGIN_NODE: {
			const char *name = (const char *)base + off;

			if (depth < MAX_DEPTH)
				names[depth] = name;
			/* depth 0 is the root, so /cpus/cpu@N sits at depth 2. */
			if (depth == 2 && !strcmp(names[1], "cpus") && !strncmp(name, "cpu@", 4))
				info->ncpus++;
			depth++;
			off += align4((uint32_t)strlen(name) + 1);
			break;
		}
		case FDT_END_NODE:
			if (--depth < 0)
				return false;
			break;
		case FDT_PROP: {
			uint32_t len = be32(base + off);
			const char *pname = (const char *)base + strings + be32(base + off + 4);

			if (depth == 2 && !strcmp(names[1], "chosen") && !strcmp(pname, "bootargs"))
				info->bootargs = (const char *)base + off + 8;
			off += 8 + align4(len);
			break;
		}
		case FDT_NOP:
			break;
		case FDT_END:
			return true;
		default:
			return false;
		}
	}
	return false;
}
