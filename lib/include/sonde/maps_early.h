/* A BPF object's maps made in the kernel before the object loads
 * (lib/maps_early.c says why and which). */
#ifndef SONDE_MAPS_EARLY_H
#define SONDE_MAPS_EARLY_H

struct bpf_object;

/* Makes those of obj's maps it can, as libbpf would (its sizes and flags
 * set by then), and hands them to libbpf; how many. */
int sonde_maps_create_early(struct bpf_object *obj);

#endif
