#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""treecopy.py SRC DST: copy a tree creating every directory's entries in
a shuffled order (on tmpfs, DST then lists them in another order than SRC), keeping
what treedisk carries over: type, mode, owner (as root), mtime/atime with ns,
xattrs, hard links, symlinks, device nodes, fifos, sockets, holes.
"""
import os
import random
import socket
import stat
import sys


def copy_data(sp, dp, size):
    fi = os.open(sp, os.O_RDONLY | os.O_NOFOLLOW)
    fo = os.open(dp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        off = 0
        while off < size:
            try:
                s = os.lseek(fi, off, os.SEEK_DATA)
            except OSError:
                break
            e = os.lseek(fi, s, os.SEEK_HOLE)
            p = s
            while p < e:
                b = os.pread(fi, min(1 << 20, e - p), p)
                if not b:
                    break
                os.pwrite(fo, b, p)
                p += len(b)
            off = e
        os.ftruncate(fo, size)
    finally:
        os.close(fi)
        os.close(fo)


rng = random.Random(1)


def order(names):
    """Entries in an order unlike the source's: reversed, then shuffled."""
    names = sorted(names, reverse=True)
    rng.shuffle(names)
    return names


def main():
    src, dst = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
    root = os.geteuid() == 0
    seen = {}
    dirs = []

    def meta(sp, dp, st):
        islnk = stat.S_ISLNK(st.st_mode)
        if root:        # before the xattrs: chown drops security.capability
            os.chown(dp, st.st_uid, st.st_gid, follow_symlinks=False)
        for n in os.listxattr(sp, follow_symlinks=False):
            try:
                os.setxattr(dp, n, os.getxattr(sp, n, follow_symlinks=False),
                            follow_symlinks=False)
            except OSError:
                pass
        if not islnk:
            os.chmod(dp, stat.S_IMODE(st.st_mode))
        if not stat.S_ISDIR(st.st_mode):
            os.utime(dp, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    def copy(sp, dp):
        st = os.lstat(sp)
        key = (st.st_dev, st.st_ino)
        m = st.st_mode
        if not stat.S_ISDIR(m) and st.st_nlink > 1 and key in seen:
            os.link(seen[key], dp, follow_symlinks=False)
            return
        if stat.S_ISDIR(m):
            os.mkdir(dp, 0o700)
            for n in order(os.listdir(sp)):
                copy(os.path.join(sp, n), os.path.join(dp, n))
            dirs.append((sp, dp, st))
        elif stat.S_ISREG(m):
            copy_data(sp, dp, st.st_size)
        elif stat.S_ISLNK(m):
            os.symlink(os.readlink(sp), dp)
        elif stat.S_ISSOCK(m):
            s = socket.socket(socket.AF_UNIX)
            s.bind(dp)
            s.close()
        else:
            os.mknod(dp, m, st.st_rdev)
        if not stat.S_ISDIR(m):
            meta(sp, dp, st)
            seen[key] = dp

    for n in order(os.listdir(src)):
        copy(os.path.join(src, n), os.path.join(dst, n))
    st = os.lstat(src)
    dirs.append((src, dst, st))
    # directories last, deepest first: their times must not be disturbed
    for sp, dp, st in dirs:
        meta(sp, dp, st)
        os.utime(dp, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


if __name__ == "__main__":
    main()
