#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""randread.py REF TARGET [--seed N] [--count N] [--procs N] [--at OFF,...]

Reads TARGET at random offsets and sizes (1 byte, 511, 4 KiB, 1 MiB, odd
sizes, unaligned, around the offsets given with --at: partition and file
boundaries, the end) and compares each read with the same bytes of REF.
With --procs N, N processes do it at once, each with its own seed.
Exit 1 on the first difference or error."""
import argparse, os, random, sys
from multiprocessing import Process

SIZES = [1, 2, 511, 512, 4095, 4096, 4097, 65536, 131071, 1 << 20, (1 << 20) + 1]


def worker(args, seed):
    r = random.Random(seed)
    ref = os.open(args.ref, os.O_RDONLY)
    tgt = os.open(args.target, os.O_RDONLY)
    size = os.fstat(ref).st_size
    if os.fstat(tgt).st_size != size:
        sys.exit(f"size {os.fstat(tgt).st_size}, want {size}")
    points = [0, size] + args.at
    for i in range(args.count):
        n = r.choice(SIZES) if r.random() < 0.7 else r.randrange(1, 3 << 20)
        k = r.random()
        if k < 0.4:
            off = r.randrange(0, size)
        elif k < 0.6:
            off = r.randrange(0, size) & ~4095
        else:   # straddle a boundary
            off = max(0, r.choice(points) - r.randrange(0, min(n, 8192) + 1))
        off = min(off, size)
        want = os.pread(ref, n, off)
        got = os.pread(tgt, n, off)
        if got != want:
            bad = next((j for j in range(min(len(got), len(want))) if got[j] != want[j]), None)
            sys.exit(f"seed {seed} read {i}: off={off} len={n}: got {len(got)} bytes, "
                     f"want {len(want)}, first difference at +{bad}")
        # reads past the end return nothing
    if os.pread(tgt, 10, size) != b"" or os.pread(tgt, 10, size + 12345) != b"":
        sys.exit("a read past the end returned data")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("target")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=400)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--at", default="")
    args = p.parse_args()
    args.at = [int(x) for x in args.at.split(",") if x]
    if args.procs == 1:
        worker(args, args.seed)
        return 0
    procs = [Process(target=worker, args=(args, args.seed + i)) for i in range(args.procs)]
    for q in procs:
        q.start()
    rc = 0
    for q in procs:
        q.join()
        rc |= q.exitcode != 0
    return rc


if __name__ == "__main__":
    sys.exit(main())
