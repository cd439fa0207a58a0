/* A nanosleep made by the calling function itself: glibc's wrappers keep
 * no frame pointer, which would hide their caller from a frame-pointer
 * walk, and the stack tools' tests want the sleep in a known function. */
#ifndef SLEEP_HERE_H
#define SLEEP_HERE_H

#include <sys/syscall.h>
#include <time.h>

static inline void sleep_here(const struct timespec *ts)
{
#if defined(__x86_64__)
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_nanosleep), "D"(ts), "S"(0L)
			 : "rcx", "r11", "memory");
#else
	nanosleep(ts, NULL);
#endif
}

#endif
