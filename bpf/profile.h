/* Switches sonde-profile's BPF side reads; its samples go to the maps of
 * sonde_stacks.bpf.h. */
#ifndef SONDE_PROFILE_H
#define SONDE_PROFILE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PROFILE_DEFAULT_HZ 49

/* --unwind dwarf: how much of the user stack each sample copies, in
 * pieces so that the copy stops at the top of the stack. */
#define PROFILE_STACK_BYTES 8192
#define PROFILE_STACK_PIECE 1024

/* A sample whose user stack is unwound in user space. */
struct profile_user_sample {
	__u32 pid;
	__u32 tid;
	__s32 kernel_stack_id;
	__u32 stack_len;
	__u64 ip;
	__u64 sp;
	__u64 bp;
	char comm[16];
	__u8 stack[PROFILE_STACK_BYTES];
};

#endif
