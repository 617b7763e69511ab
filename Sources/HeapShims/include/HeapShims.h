// glibc's heap controls (<malloc.h>, which Swift's Glibc module does not import).
#ifndef MEMD_HEAP_SHIMS_H
#define MEMD_HEAP_SHIMS_H

/// mallopt(M_MMAP_THRESHOLD, bytes) and mallopt(M_ARENA_MAX, arenas). Returns 1 if both took.
int memd_heap_configure(int mmap_threshold, int arena_max);

/// malloc_trim(0): gives every whole free page inside the heaps back to the system.
void memd_heap_trim(void);

/// malloc_usable_size(block): the bytes a block from malloc holds (at least those asked for).
unsigned long memd_heap_usable_size(void *block);

#endif
