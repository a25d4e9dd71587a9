/*
 * hartbeat's /init: the first process of the test initramfs.
 *
 * It mounts /dev, /proc and /sys, prints one milestone line per step (the linux-boot plan
 * waits for them), then reads commands from the console, one per line, and ends every command
 * with "HB_EXIT:<status>" so a plan can tell the result of each one. Commands:
 *
 *   echo WORDS...     print the words
 *   uname [-a]        kernel name (and release, version, machine with -a)
 *   cat FILE...       copy files to the console
 *   run-test NAME     fork and exec /bin/hbtest NAME (the test programs); NAME "list" lists them
 *   poweroff          switch off (SBI system reset)
 *   reboot, reset     restart (a board whose power-off fails ends its run this way with -no-reboot)
 *   help              this list
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROMPT "hartbeat# "
#define MAX_ARGS 16
#define LINE_MAX_LEN 512
#define HBTEST "/bin/hbtest"

static void mount_or_report(const char *source, const char *target, const char *type)
{
	mkdir(target, 0755);
	if (mount(source, target, type, 0, NULL) != 0 && errno != EBUSY)
		printf("init: mount %s on %s failed: %s\n", type, target, strerror(errno));
}

/* Make fd 0, 1 and 2 the console (the kernel opens it for us when /dev/console exists). */
static void open_console(void)
{
	if (fcntl(1, F_GETFD) != -1)
		return;
	int fd = open("/dev/console", O_RDWR);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static int cmd_echo(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		printf("%s%s", argv[i], i + 1 < argc ? " " : "");
	printf("\n");
	return 0;
}

static int cmd_uname(int argc, char **argv)
{
	struct utsname u;
	if (uname(&u) != 0) {
		printf("uname: %s\n", strerror(errno));
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "-a") == 0)
		printf("%s %s %s %s %s\n", u.sysname, u.nodename, u.release, u.version, u.machine);
	else
		printf("%s\n", u.sysname);
	return 0;
}

static int cmd_cat(int argc, char **argv)
{
	int status = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		if (f == NULL) {
			printf("cat: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		char buf[256];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, stdout);
		fclose(f);
	}
	return status;
}

/* fork + exec + wait: the status is the program's exit code, or 128 + the signal that killed it. */
static int run_program(char **argv)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("init: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		printf("init: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			printf("init: waitpid: %s\n", strerror(errno));
			return 1;
		}
	}
	if (WIFSIGNALED(status)) {
		printf("init: %s killed by signal %d\n", argv[0], WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

static int cmd_run_test(int argc, char **argv)
{
	if (argc != 2) {
		printf("usage: run-test NAME (run-test list names them)\n");
		return 2;
	}
	char *child[] = {HBTEST, argv[1], NULL};
	return run_program(child);
}

static int cmd_power(int how, const char *what)
{
	printf("init: %s\n", what);
	fflush(stdout);
	sync();
	reboot(how);
	/* Only reached when the kernel refused. */
	printf("init: %s failed: %s\n", what, strerror(errno));
	return 1;
}

static int cmd_help(void)
{
	printf("commands: echo WORDS, uname [-a], cat FILE, run-test NAME, poweroff, reboot (reset), help\n");
	return 0;
}

static int split(char *line, char **argv)
{
	int argc = 0;
	for (char *word = strtok(line, " \t\r\n"); word && argc < MAX_ARGS - 1; word = strtok(NULL, " \t\r\n"))
		argv[argc++] = word;
	argv[argc] = NULL;
	return argc;
}

static int dispatch(int argc, char **argv)
{
	const char *name = argv[0];
	if (strcmp(name, "echo") == 0)
		return cmd_echo(argc, argv);
	if (strcmp(name, "uname") == 0)
		return cmd_uname(argc, argv);
	if (strcmp(name, "cat") == 0)
		return cmd_cat(argc, argv);
	if (strcmp(name, "run-test") == 0)
		return cmd_run_test(argc, argv);
	if (strcmp(name, "poweroff") == 0)
		return cmd_power(RB_POWER_OFF, "powering off");
	/* "reset" as in U-Boot, so one off_command variable serves both on a board without power-off. */
	if (strcmp(name, "reboot") == 0 || strcmp(name, "reset") == 0)
		return cmd_power(RB_AUTOBOOT, "rebooting");
	if (strcmp(name, "help") == 0)
		return cmd_help();
	printf("init: unknown command '%s' (try help)\n", name);
	return 127;
}

int main(void)
{
	open_console();
	/* Line-buffered output: each milestone reaches the console as soon as it is printed. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("init: started (pid %d)\n", (int)getpid());
	mount_or_report("devtmpfs", "/dev", "devtmpfs");
	mount_or_report("proc", "/proc", "proc");
	mount_or_report("sysfs", "/sys", "sysfs");
	printf("init: mounted /dev /proc /sys\n");
	printf("init: %ld harts online\n", sysconf(_SC_NPROCESSORS_ONLN));

	char line[LINE_MAX_LEN];
	for (;;) {
		printf(PROMPT);
		fflush(stdout);
		if (fgets(line, sizeof line, stdin) == NULL) {
			/* A console that reports end of file (or an error) must not spin pid 1. */
			clearerr(stdin);
			sleep(1);
			continue;
		}
		char *argv[MAX_ARGS];
		int argc = split(line, argv);
		if (argc == 0)
			continue;
		int status = dispatch(argc, argv);
		fflush(stdout);
		printf("HB_EXIT:%d\n", status);
	}
}
