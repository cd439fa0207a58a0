/* Switches sonde-profile's BPF side reads; its samples go to the maps of
 * sonde_stacks.bpf.h, or as struct sonde_user_sample events when their
 * user stacks are unwound in user space. */
#ifndef SONDE_PROFILE_H
#define SONDE_PROFILE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PROFILE_DEFAULT_HZ 49

#endif
