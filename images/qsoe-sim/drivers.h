/* The pretend devices behind the boot: an NVMe namespace and the qrvfs on it. */
#ifndef QSOE_DRIVERS_H
#define QSOE_DRIVERS_H

/* devb-nvme: bring the controller up (panics in builds with the unrelated NVMe fault). */
void nvme_probe(void);
/* fs-qrv: read and check the superblock on dev, then mount it at dir. */
void qrvfs_mount(const char *dev, const char *dir);

/* Copies program `prog` (a stub from stubs.S) into the shared text page and runs it. */
void loader_exec(const char *name, unsigned prog);

#endif
