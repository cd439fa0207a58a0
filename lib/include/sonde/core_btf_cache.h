/* CO-RE subset BTFs kept per boot for the next start (lib/core_btf_cache.c
 * says where, and why they can be trusted). */
#ifndef SONDE_CORE_BTF_CACHE_H
#define SONDE_CORE_BTF_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* h with len bytes of data mixed in (start from 0xcbf29ce484222325). */
uint64_t sonde_core_btf_hash(uint64_t h, const void *data, size_t len);

/* The file for an object whose types and relocations hash to object_key,
 * on this boot, written by this build of libsonde; false when caching is
 * off (SONDE_CACHE_DIR set empty) or the boot or build cannot be told. */
bool sonde_core_btf_cache_path(uint64_t object_key, char *path, size_t len);

/* Whether path holds a BTF to use: in a directory and a file of this
 * user's that no one else can write to, and parsing as BTF (its type
 * count in *n_types). One that does not parse is removed. */
bool sonde_core_btf_cache_usable(const char *path, unsigned *n_types);

/* Writes all of raw to fd; false on an error or a short write. */
bool sonde_core_btf_write(int fd, const void *raw, size_t size);

/* Keeps the BTF raw at path, written whole or not at all; nothing when
 * it cannot (a read-only /run). Removes files of other boots, and all
 * but the newest 64 of this one. */
void sonde_core_btf_cache_store(const char *path, const void *raw, size_t size);

#endif
