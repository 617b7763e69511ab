// Synchronization.Mutex's hand-off between threads, shown to ThreadSanitizer (issue 23).
//
// On Linux, Mutex locks and unlocks with an atomic compare-exchange inlined into our code, which TSan
// sees; when the lock is contended it goes to _lockSlow/_unlockSlow in libswiftSynchronization.so:
// a spin of compare-exchanges and FUTEX_LOCK_PI/FUTEX_UNLOCK_PI, where the kernel hands the lock to
// the waiter. That library is not instrumented, so TSan never sees that hand-off and reports the
// accesses two threads make inside withLock, one after the other, as a race (SharedReads' meminfo
// against socketRead, in the whole-suite pass; a 20-line program of two threads under one Mutex,
// whose count comes out exact, gets three reports a run).
//
// In a TSan build this file defines those two slow paths (and _tryLockSlow) by their Swift names:
// the linker binds our code's calls to these, which call the library's own (found with dlsym
// RTLD_NEXT) and tell TSan of the hand-off on the futex word's address, the same address the
// inlined fast path's atomics use: __tsan_acquire once the lock is taken, __tsan_release before it
// is given up. Only the lock's own edges are added: an access outside any lock is still reported.
// In any other build this file is empty and Mutex is the library's, untouched. Swift passes `self`
// (the futex word's address) in the context register: clang's swift_context.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SWIFTCALL __attribute__((swiftcall))
#define SWIFT_SELF __attribute__((swift_context))
#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

typedef SWIFTCALL void (*LockSlow)(uint32_t, void *SWIFT_SELF);
typedef SWIFTCALL bool (*TryLockSlow)(void *SWIFT_SELF);
typedef SWIFTCALL void (*UnlockSlow)(void *SWIFT_SELF);

static LockSlow libraryLockSlow;
static TryLockSlow libraryTryLockSlow;
static UnlockSlow libraryUnlockSlow;

static void *libraryFunction(const char *name) {
    void *function = dlsym(RTLD_NEXT, name);
    if (function == NULL) {
        fprintf(stderr, "MutexTSan: %s not found in libswiftSynchronization\n", name);
        abort();
    }
    return function;
}

// Before main: every thread that locks a Mutex starts later.
__attribute__((constructor)) static void findLibraryFunctions(void) {
    libraryLockSlow = (LockSlow)libraryFunction(LOCK_SLOW);
    libraryTryLockSlow = (TryLockSlow)libraryFunction(TRY_LOCK_SLOW);
    libraryUnlockSlow = (UnlockSlow)libraryFunction(UNLOCK_SLOW);
}

SWIFTCALL void memd_mutex_lock_slow(uint32_t selfID, void *SWIFT_SELF word) __asm__(LOCK_SLOW);
SWIFTCALL void memd_mutex_lock_slow(uint32_t selfID, void *SWIFT_SELF word) {
    libraryLockSlow(selfID, word);
    __tsan_acquire(word);
}

SWIFTCALL bool memd_mutex_try_lock_slow(void *SWIFT_SELF word) __asm__(TRY_LOCK_SLOW);
SWIFTCALL bool memd_mutex_try_lock_slow(void *SWIFT_SELF word) {
    bool locked = libraryTryLockSlow(word);
    if (locked) __tsan_acquire(word);
    return locked;
}

SWIFTCALL void memd_mutex_unlock_slow(void *SWIFT_SELF word) __asm__(UNLOCK_SLOW);
SWIFTCALL void memd_mutex_unlock_slow(void *SWIFT_SELF word) {
    __tsan_release(word);
    libraryUnlockSlow(word);
}
#endif
#endif
