/* The per-build translation unit: the Makefile passes these from build.conf / the command line. */
#include "build.h"

#if !defined(BUILD_NO) || !defined(BUILD_ID) || !defined(FAULT_KIND) || !defined(FLAKY_PERCENT) || \
	!defined(NVME_TIMEOUT)
#error "build.c is compiled by the Makefile, which defines the build configuration"
#endif

const struct build_info build = {
	.number = BUILD_NO,
	.id = BUILD_ID,
	.fault = FAULT_KIND,
	.flaky_percent = FLAKY_PERCENT,
	.nvme_timeout = NVME_TIMEOUT,
};
