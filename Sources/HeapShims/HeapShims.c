#include "HeapShims.h"

#include <malloc.h>

int memd_heap_configure(int mmap_threshold, int arena_max) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 && mallopt(M_ARENA_MAX, arena_max) == 1;
}

void memd_heap_trim(void) { malloc_trim(0); }

unsigned long memd_heap_usable_size(void *block) { return malloc_usable_size(block); }
