/* User stacks copied when a thread blocked, unwound and waiting for the
 * block's end, which says whether and how much it counts (sonde-offcpu:
 * the copy goes to user space at the switch-out, the time at the
 * switch-in). At most one per thread: a thread blocks once at a time. */
#ifndef SONDE_STACK_PENDING_H
#define SONDE_STACK_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_stack_pending;

struct sonde_stack_pending *sonde_stack_pending_new(void);
void sonde_stack_pending_free(struct sonde_stack_pending *p);

/* Keeps the n frames ips of thread tid of process pid until taken,
 * replacing what the thread had waiting (a block that did not count).
 * 0 or -ENOMEM. */
int sonde_stack_pending_put(struct sonde_stack_pending *p, uint32_t pid, uint32_t tid,
			    const uint64_t *ips, size_t n);

/* The frames waiting for thread tid of process pid, which are forgotten:
 * *ips stays valid until the next put. False when none wait. */
bool sonde_stack_pending_take(struct sonde_stack_pending *p, uint32_t pid, uint32_t tid,
			      const uint64_t **ips, size_t *n);

#endif
