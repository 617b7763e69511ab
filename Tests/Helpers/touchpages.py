#!/usr/bin/env python3
"""A process for the working-set and page-flag tests: a buffer of known size, a known part of it
touched again and again, and regions the kernel backs in known ways.

usage: touchpages.py TOTAL_MIB TOUCH_MIB [--interval-ms MS] [--read] [--regions] [--file PATH]
                     [--nondumpable]

TOTAL_MIB   an anonymous buffer of this size, every page written once at the start (its own
            mapping: MADV_DONTFORK and MADV_NOHUGEPAGE keep the kernel from merging it with a
            neighbour or backing it with huge pages)
TOUCH_MIB   then, every --interval-ms (default 50), the first TOUCH_MIB MiB are touched again, one
            byte per page: written, or read with --read; 0: nothing is touched after the start
--regions   also: a 4 MiB buffer 2 MiB-aligned with MADV_HUGEPAGE, written (transparent huge pages
            where the kernel has them), 2 MiB read but never written (the shared zero page), and
            --file PATH (1 MiB, created) mapped and read
--nondumpable  prctl(PR_SET_DUMPABLE, 0) before `ready`

Prints one line per region, `NAME 0xSTART 0xEND`, then `ready`; touches until killed or until
its stdin is closed.
"""
import ctypes
import mmap
import os
import sys
import threading
import time

MIB = 1 << 20
PAGE = mmap.PAGESIZE


def address(m):
    return ctypes.addressof(ctypes.c_char.from_buffer(m))


def region(name, start, size):
    print("%s 0x%x 0x%x" % (name, start, start + size), flush=True)


def main(argv):
    total, touch = int(argv[0]) * MIB, int(argv[1]) * MIB
    interval = 0.05
    read = "--read" in argv
    if "--interval-ms" in argv:
        interval = int(argv[argv.index("--interval-ms") + 1]) / 1000
    keep = []

    buffer = mmap.mmap(-1, total, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buffer.madvise(mmap.MADV_DONTFORK)
    buffer.madvise(mmap.MADV_NOHUGEPAGE)
    for offset in range(0, total, PAGE):
        buffer[offset] = 1
    region("buffer", address(buffer), total)
    keep.append(buffer)

    if "--regions" in argv:
        huge = 2 * MIB
        thp = mmap.mmap(-1, 3 * huge, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        base = address(thp)
        skip = (-base) % huge
        thp.madvise(mmap.MADV_HUGEPAGE, skip, 2 * huge)
        for offset in range(skip, skip + 2 * huge, PAGE):
            thp[offset] = 1
        region("thp", base + skip, 2 * huge)
        keep.append(thp)

        zero = mmap.mmap(-1, 2 * MIB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        zero.madvise(mmap.MADV_NOHUGEPAGE)
        zero.madvise(mmap.MADV_DONTFORK)
        sum(zero[offset] for offset in range(0, 2 * MIB, PAGE))
        region("zero", address(zero), 2 * MIB)
        keep.append(zero)

        path = argv[argv.index("--file") + 1]
        with open(path, "wb") as f:
            f.write(os.urandom(MIB))
        fd = os.open(path, os.O_RDONLY)
        mapped = mmap.mmap(fd, MIB, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        sum(mapped[offset] for offset in range(0, MIB, PAGE))
        # A read-only mapping cannot export a writable buffer: its address from /proc/self/maps.
        with open("/proc/self/maps") as maps:
            for line in maps:
                if line.rstrip().endswith(path):
                    low, high = line.split()[0].split("-")
                    region("file", int(low, 16), int(high, 16) - int(low, 16))
                    break
        keep.append(mapped)

    if "--nondumpable" in argv:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE

    done = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("ready", flush=True)
    while not done.is_set():
        if touch:
            if read:
                sum(buffer[offset] for offset in range(0, touch, PAGE))
            else:
                for offset in range(0, touch, PAGE):
                    buffer[offset] = 2
        done.wait(interval)


if __name__ == "__main__":
    main(sys.argv[1:])
