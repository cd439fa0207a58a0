/* Detaching a tool's BPF links at exit without making the user wait for
 * the kernel's slow ones. */
#ifndef SONDE_DETACH_H
#define SONDE_DETACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bpf_link;

/* Whether closing this link makes the kernel wait out RCU grace periods,
 * as far as it says: a perf-event link on a classic tracepoint or a
 * kprobe (Linux 6.6 and later tell), or a kprobe multi-link. */
bool sonde_link_detach_is_slow(const struct bpf_link *link);

/* Destroys links[0..n). When some are slow and background is true, a
 * child process (named "sonde-detach", in a session of its own, with no
 * standard streams or other files of the tool) holds the last reference
 * to them and closes them, several at once, after the tool has let go of
 * its own: the programs stay attached until it ends, about a grace period
 * per slow link later (1 s for 32 syscall tracepoints), and the tool
 * exits at once. Returns that child's pid, or 0 when every link was
 * detached here (nothing slow, background false, or no child could be
 * started). */
pid_t sonde_detach_links(struct bpf_link **links, size_t n, bool background);

#endif
