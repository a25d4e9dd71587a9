/* A getty and a shell just big enough for testplans: login, echo, uname, stats, poweroff. */
#include <stdint.h>

#include "build.h"
#include "console.h"
#include "lib.h"
#include "riscv.h"
#include "taskman.h"

#define LINE_MAX 128
/* Poll the UART once a millisecond and sleep in wfi between polls. */
#define POLL_TICKS (MTIME_HZ / 1000)

void __attribute__((noreturn)) shell_run(void);

static unsigned long boot_instret;

static int getc_wait(void)
{
	int c;

	while ((c = console_getc()) < 0)
		sleep_ticks(POLL_TICKS);
	return c;
}

/* Echoes like a tty in cooked mode; CR, LF and CRLF all end a line. */
static void read_line(char *buf, unsigned size)
{
	static bool last_cr;
	unsigned len = 0;

	for (;;) {
		int c = getc_wait();

		if (c == '\n' && last_cr) {
			last_cr = false;
			continue;
		}
		last_cr = c == '\r';
		if (c == '\r' || c == '\n')
			break;
		if (c == 0x7f || c == '\b') {
			if (len) {
				len--;
				kprintf("\b \b");
			}
		} else if (c >= ' ' && len + 1 < size) {
			buf[len++] = (char)c;
			kprintf("%c", c);
		}
	}
	buf[len] = '\0';
	kprintf("\n");
}

static void __attribute__((noreturn)) test_device(uint32_t cmd)
{
	mmio_write32(TEST_BASE, cmd);
	for (;;)
		wfi();
}

static void run_command(const char *line)
{
	while (*line == ' ')
		line++;
	if (!*line)
		return;
	if (!strncmp(line, "echo", 4) && (line[4] == ' ' || !line[4])) {
		kprintf("%s\n", line[4] ? line + 5 : "");
	} else if (!strcmp(line, "uname") || !strcmp(line, "uname -a")) {
		kprintf("QSOE/sim 0.%u build %s riscv64\n", build.number, build.id);
	} else if (!strcmp(line, "stats")) {
		kprintf("boot instret hart0=%lu hart1=%lu mtime=%lu\n", boot_instret, taskman_idle_instret,
			(unsigned long)mtime());
	} else if (!strcmp(line, "poweroff")) {
		kprintf("Power down.\n");
		test_device(TEST_POWEROFF);
	} else if (!strcmp(line, "reboot")) {
		kprintf("Restarting system.\n");
		test_device(TEST_RESET);
	} else if (!strcmp(line, "help")) {
		kprintf("commands: echo uname stats poweroff reboot help\n");
	} else {
		kprintf("sh: %s: not found\n", line);
	}
}

void shell_run(void)
{
	char line[LINE_MAX];

	boot_instret = csr_read(minstret);
	kprintf("login: ");
	read_line(line, sizeof(line));
	for (;;) {
		kprintf("# ");
		read_line(line, sizeof(line));
		run_command(line);
	}
}
