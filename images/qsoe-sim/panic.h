#ifndef QSOE_PANIC_H
#define QSOE_PANIC_H

/* Name shown on the panic's "Comm:" line; init points it at the process it is acting for. */
extern const char *current_comm;

/* Linux-shaped panic report, then the hart stops silently in wfi. */
void __attribute__((noreturn, format(printf, 1, 2))) panic(const char *fmt, ...);

#endif
