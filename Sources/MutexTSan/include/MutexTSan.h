// Nothing to call: linking this target is what it does (see MutexTSan.c). Empty outside a
// ThreadSanitizer build.
#ifndef MEMD_MUTEX_TSAN_H
#define MEMD_MUTEX_TSAN_H
#endif
