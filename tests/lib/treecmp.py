#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Compare directory trees, entry by entry, the way treedisk must preserve them.

  treecmp.py [--time-res ns|s] [--no-content] [--ignore-extra NAME] SRC DST
      lstat fields (type, mode, uid, gid, size, nlink, mtime, rdev), symlink
      targets, xattrs, hard-link groups, file contents (hole-aware: files of
      many GiB compare in no time when both sides are sparse) and that sparse
      files stay sparse.  Prints one line per difference; exit 1 if any.
  treecmp.py --digest DIR
      sha256 over every entry's metadata (incl. ctime: any write, chmod or
      setxattr shows) and content.  Same tree, same digest.
  treecmp.py --debugfs PART SRC
      the same comparison through debugfs (no mount, no root): entries and
      their mode/uid/gid/size/hard links from `ls -p`, xattr names from
      `ea_list`, contents of small files from `dump`.

Names are bytes throughout: non-UTF-8 names are compared exactly.
"""
import argparse
import hashlib
import os
import stat
import subprocess
import sys
import tempfile

MAX_REPORT = 60
CHUNK = 1 << 20


def walk(root):
    """Yields (relpath bytes, lstat) for root ('.') and everything below, sorted."""
    root = os.fsencode(root)
    out = []
    stack = [b"."]
    while stack:
        rel = stack.pop()
        p = os.path.join(root, rel) if rel != b"." else root
        st = os.lstat(p)
        out.append((rel, st))
        if stat.S_ISDIR(st.st_mode):
            try:
                names = os.listdir(p)
            except PermissionError:
                names = []
            for n in sorted(names, reverse=True):
                stack.append(n if rel == b"." else rel + b"/" + n)
    out.sort(key=lambda e: e[0])
    return out


def walk_names(root):
    """(name, is_dir) of the directories at the top of root."""
    out = []
    for n in os.listdir(os.fsencode(root)):
        p = os.path.join(os.fsencode(root), n)
        if not os.path.islink(p) and os.path.isdir(p):
            out.append((n, True))
    return out


def disk_len(name, value):
    """Length of an xattr value as ext4 stores it (debugfs shows that one):
    a POSIX ACL goes from Linux's xattr form (4-byte header, 8-byte entries)
    to ext4's (4-byte header, 4-byte entries but for named users and groups,
    8; fs/ext4/acl.h)."""
    if name in ("system.posix_acl_access", "system.posix_acl_default") and len(value) >= 4:
        n = 4
        for i in range(4, len(value) - 7, 8):
            tag = value[i] | value[i + 1] << 8
            n += 8 if tag in (0x02, 0x08) else 4
        return n
    return len(value)


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    d = {}
    for n in names:
        try:
            d[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            d[n] = ("<error %d>" % e.errno).encode()
    return d


def data_segments(fd, size):
    """[(start, end)] of the data of a file, from SEEK_DATA/SEEK_HOLE."""
    segs = []
    off = 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        segs.append((start, min(end, size)))
        off = end
    return segs


def read_range(fd, start, end):
    off = start
    while off < end:
        n = min(CHUNK, end - off)
        b = os.pread(fd, n, off)
        if len(b) != n:
            raise OSError("short read at %d" % off)
        yield off, b
        off += n


def content_digest(path, size):
    """sha256 of a file's bytes, hole-aware (hashes (offset, data) of data segments;
    holes are zeros by definition, and the size is hashed by the caller)."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for s, e in data_segments(fd, size):
            for off, b in read_range(fd, s, e):
                if b.count(0) == len(b):
                    continue      # zeros read the same whether stored or a hole
                h.update(b"%d:" % off)
                h.update(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def merge(segs):
    segs = sorted(segs)
    out = []
    for s, e in segs:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def compare_content(pa, pb, size):
    """None if equal, else a description of the first difference."""
    fa = os.open(pa, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    fb = os.open(pb, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        ranges = merge(data_segments(fa, size) + data_segments(fb, size))
        for s, e in ranges:
            off = s
            while off < e:
                n = min(CHUNK, e - off)
                a = os.pread(fa, n, off)
                b = os.pread(fb, n, off)
                if a != b:
                    if len(a) != len(b):
                        return "short read at %d (%d vs %d bytes)" % (off, len(a), len(b))
                    i = next(i for i in range(n) if a[i] != b[i])
                    return "bytes differ at offset %d (%02x vs %02x)" % (off + i, a[i], b[i])
                off += n
    finally:
        os.close(fa)
        os.close(fb)
    return None


def fmt_name(rel):
    return rel.decode("utf-8", "backslashreplace")


class Report:
    def __init__(self):
        self.n = 0

    def __call__(self, rel, what):
        self.n += 1
        if self.n <= MAX_REPORT:
            print("%s: %s" % (fmt_name(rel), what))
        elif self.n == MAX_REPORT + 1:
            print("... (more differences not shown)")


def cmp_trees(a, b, args):
    rep = Report()
    ea = dict(walk(a))
    eb = dict(walk(b))
    for n in args.ignore_extra:
        n = os.fsencode(n)
        if n not in ea:
            eb = {k: v for k, v in eb.items() if k != n and not k.startswith(n + b"/")}
    for rel in sorted(set(ea) - set(eb)):
        rep(rel, "missing in %s" % b)
    for rel in sorted(set(eb) - set(ea)):
        rep(rel, "extra in %s" % b)
    # lost+found made by the builder adds one link to the root
    root_extra = sum(1 for n in args.ignore_extra
                     if os.fsencode(n) not in ea and os.fsencode(n) in dict(walk_names(b)))
    ba, bb = os.fsencode(a), os.fsencode(b)
    links_a, links_b = {}, {}
    for rel in sorted(set(ea) & set(eb)):
        sa, sb = ea[rel], eb[rel]
        pa = os.path.join(ba, rel) if rel != b"." else ba
        pb = os.path.join(bb, rel) if rel != b"." else bb
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            rep(rel, "type %o vs %o" % (stat.S_IFMT(sa.st_mode), stat.S_IFMT(sb.st_mode)))
            continue
        isdir = stat.S_ISDIR(sa.st_mode)
        if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
            rep(rel, "mode %04o vs %04o" % (stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)))
        if not args.no_owner and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            rep(rel, "owner %d:%d vs %d:%d" % (sa.st_uid, sa.st_gid, sb.st_uid, sb.st_gid))
        if not isdir and sa.st_size != sb.st_size:
            rep(rel, "size %d vs %d" % (sa.st_size, sb.st_size))
        # a directory of more than 65,000 subdirectories may have nlink 1 (dir_nlink);
        # a source directory with nlink 1 does not count its links (overlayfs'
        # merged directories): the image's own count stands
        if rel == b"." and sa.st_nlink + root_extra == sb.st_nlink:
            pass
        elif isdir and sa.st_nlink == 1 and sb.st_nlink >= 2:
            pass
        elif sa.st_nlink != sb.st_nlink and not (isdir and 1 in (sa.st_nlink, sb.st_nlink)
                                                and max(sa.st_nlink, sb.st_nlink) > 65000):
            rep(rel, "nlink %d vs %d" % (sa.st_nlink, sb.st_nlink))
        if not args.no_mtime and not (rel == b"." and args.skip_root_time):
            ta, tb = sa.st_mtime_ns, sb.st_mtime_ns
            if args.time_res == "s":
                ta, tb = ta // 10**9, tb // 10**9
            if ta != tb:
                rep(rel, "mtime %d vs %d (ns)" % (sa.st_mtime_ns, sb.st_mtime_ns))
        if (stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode)) and sa.st_rdev != sb.st_rdev:
            rep(rel, "rdev %d:%d vs %d:%d" % (os.major(sa.st_rdev), os.minor(sa.st_rdev),
                                               os.major(sb.st_rdev), os.minor(sb.st_rdev)))
        if stat.S_ISLNK(sa.st_mode):
            la, lb = os.readlink(pa), os.readlink(pb)
            if la != lb:
                rep(rel, "symlink target %r vs %r" % (la[:80], lb[:80]))
        if not args.no_xattrs:
            xa, xb = xattrs(pa), xattrs(pb)
            for k in args.ignore_xattr:
                xa.pop(k, None)
                xb.pop(k, None)
            if xa != xb:
                for k in sorted(set(xa) | set(xb)):
                    if xa.get(k) != xb.get(k):
                        rep(rel, "xattr %s: %r vs %r" % (k, (xa.get(k) or b"")[:40] if k in xa else None,
                                                        (xb.get(k) or b"")[:40] if k in xb else None))
        if not isdir:
            links_a.setdefault((sa.st_dev, sa.st_ino), []).append(rel)
            links_b.setdefault((sb.st_dev, sb.st_ino), []).append(rel)
        if stat.S_ISREG(sa.st_mode) and sa.st_size == sb.st_size:
            if not args.no_content:
                try:
                    d = compare_content(pa, pb, sa.st_size)
                except OSError as e:
                    d = "read error: %s" % e
                if d:
                    rep(rel, "content: " + d)
            # sparse stays sparse: no more than 1 MiB over the source's allocation
            if sa.st_size >= (4 << 20) and sa.st_blocks * 512 < sa.st_size // 2 and \
               sb.st_blocks * 512 > sa.st_blocks * 512 + (1 << 20):
                rep(rel, "not sparse: %d bytes allocated vs %d" % (sa.st_blocks * 512,
                                                                    sb.st_blocks * 512))
    ga = sorted(sorted(v) for v in links_a.values() if len(v) > 1)
    gb = sorted(sorted(v) for v in links_b.values() if len(v) > 1)
    if ga != gb:
        for g in ga:
            if g not in gb:
                rep(g[0], "hard-link group %s not one inode in %s" % ([fmt_name(x) for x in g], b))
        for g in gb:
            if g not in ga:
                rep(g[0], "hard-link group %s is one inode only in %s" % ([fmt_name(x) for x in g], b))
    return rep.n


def digest(d):
    h = hashlib.sha256()
    bd = os.fsencode(d)
    for rel, st in walk(d):
        p = os.path.join(bd, rel) if rel != b"." else bd
        h.update(rel + b"\0")
        h.update(b"%o %d %d %d %d %d %d %d %d\0" % (
            st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_mtime_ns, st.st_ctime_ns,
            st.st_rdev, st.st_ino, st.st_size if not stat.S_ISDIR(st.st_mode) else 0))
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(p) + b"\0")
        for k, v in sorted(xattrs(p).items()):
            h.update(k.encode() + b"=" + v + b"\0")
        if stat.S_ISREG(st.st_mode):
            h.update(content_digest(p, st.st_size).encode())
    return h.hexdigest()


def dq(rel):
    """Quote a path for debugfs' command parser."""
    return b'"/' + (rel if rel != b"." else b"") + b'"'


def run_debugfs(part, cmds, out_dir):
    cf = os.path.join(out_dir, "cmds")
    with open(cf, "wb") as f:
        f.write(b"".join(c + b"\n" for c in cmds))
    r = subprocess.run(["debugfs", "-f", cf, part], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    # With -f, debugfs echoes each command as "debugfs: CMD" before its output.
    blocks = []
    for line in r.stdout.split(b"\n"):
        if line.startswith(b"debugfs: "):
            blocks.append([])
        elif blocks:
            blocks[-1].append(line)
    if len(blocks) != len(cmds):
        raise SystemExit("debugfs: %d answers to %d commands" % (len(blocks), len(cmds)))
    return blocks


def cmp_debugfs(part, src, args):
    rep = Report()
    ents = walk(src)
    bsrc = os.fsencode(src)
    dirs = [rel for rel, st in ents if stat.S_ISDIR(st.st_mode)]
    img = {}
    unsafe = [d for d in dirs if b'"' in d or b"\n" in d]
    with tempfile.TemporaryDirectory() as tmp:
        cmds = [b"ls -p " + dq(d) for d in dirs if d not in unsafe]
        for d, lines in zip([d for d in dirs if d not in unsafe], run_debugfs(part, cmds, tmp)):
            for line in lines:
                # /INODE/MODE/UID/GID/NAME/SIZE/ ; NAME has no '/'
                if not line.startswith(b"/"):
                    continue
                f = line.split(b"/")
                if len(f) < 8:
                    continue
                name = b"/".join(f[5:-2])
                # inode 0: the empty dirent heading an htree's interior (dx_node) block
                if name in (b".", b"..") or int(f[1]) == 0:
                    continue
                rel = name if d == b"." else d + b"/" + name
                # debugfs 1.47 prints ids over 2^31 as negative numbers
                img[rel] = dict(ino=int(f[1]), mode=int(f[2], 8), uid=int(f[3]) & 0xffffffff,
                                gid=int(f[4]) & 0xffffffff, size=int(f[-2]) if f[-2] else 0)
        src_ents = {rel: st for rel, st in ents if rel != b"."}
        for n in args.ignore_extra:
            n = os.fsencode(n)
            if n not in src_ents:
                img = {k: v for k, v in img.items() if k != n and not k.startswith(n + b"/")}
        for rel in sorted(set(src_ents) - set(img)):
            if not any(rel.startswith(u + b"/") for u in unsafe):
                rep(rel, "missing in the image (debugfs ls)")
        for rel in sorted(set(img) - set(src_ents)):
            rep(rel, "extra in the image (debugfs ls)")
        groups_s, groups_i = {}, {}
        for rel in sorted(set(src_ents) & set(img)):
            st, e = src_ents[rel], img[rel]
            if st.st_mode != e["mode"]:
                rep(rel, "mode %o vs %o" % (st.st_mode, e["mode"]))
            if not args.no_owner and (st.st_uid, st.st_gid) != (e["uid"], e["gid"]):
                rep(rel, "owner %d:%d vs %d:%d" % (st.st_uid, st.st_gid, e["uid"], e["gid"]))
            if stat.S_ISREG(st.st_mode) and st.st_size != e["size"]:
                rep(rel, "size %d vs %d" % (st.st_size, e["size"]))
            if not stat.S_ISDIR(st.st_mode):
                groups_s.setdefault((st.st_dev, st.st_ino), []).append(rel)
                groups_i.setdefault(e["ino"], []).append(rel)
        ga = sorted(sorted(v) for v in groups_s.values())
        gb = sorted(sorted(v) for v in groups_i.values())
        if ga != gb:
            for g in ga:
                if g not in gb:
                    rep(g[0], "hard links %s differ in the image" % [fmt_name(x) for x in g])
        # xattr names (and value lengths) of entries that have any, up to 2000
        common = [rel for rel in sorted(set(src_ents) & set(img)) if b'"' not in rel]
        withx = [rel for rel in common if xattrs(os.path.join(bsrc, rel))][:2000]
        if withx and not args.no_xattrs:
            for rel, lines in zip(withx, run_debugfs(part, [b"ea_list " + dq(r) for r in withx], tmp)):
                want = {k: disk_len(k, v) for k, v in xattrs(os.path.join(bsrc, rel)).items()}
                got = {}
                for line in lines:
                    line = line.strip()
                    if b" (" in line and b")" in line and not line.startswith(b"Extended"):
                        k, rest = line.split(b" (", 1)
                        try:
                            got[k.decode()] = int(rest.split(b")", 1)[0])
                        except ValueError:
                            pass
                # debugfs shows system.data (inline data) too; ignore it
                got.pop("system.data", None)
                if want != got:
                    rep(rel, "xattrs (name: length) %s vs %s" % (want, got))
        # contents of small regular files, up to 400 of them
        small = [rel for rel in common if stat.S_ISREG(src_ents[rel].st_mode)
                 and src_ents[rel].st_size <= (1 << 20)
                 and os.access(os.path.join(bsrc, rel), os.R_OK)][:400]
        if small and not args.no_content:
            cmds = [b"dump " + dq(r) + b" " + os.fsencode(os.path.join(tmp, "f%d" % i))
                    for i, r in enumerate(small)]
            run_debugfs(part, cmds, tmp)
            for i, rel in enumerate(small):
                p = os.path.join(tmp, "f%d" % i)
                try:
                    got = open(p, "rb").read()
                except OSError:
                    rep(rel, "debugfs dump failed")
                    continue
                if got != open(os.path.join(bsrc, rel), "rb").read():
                    rep(rel, "content differs (debugfs dump)")
                os.unlink(p)
    return rep.n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--digest", metavar="DIR")
    ap.add_argument("--debugfs", metavar="PART")
    ap.add_argument("--time-res", choices=["ns", "s"], default="ns")
    ap.add_argument("--no-content", action="store_true")
    ap.add_argument("--no-xattrs", action="store_true")
    # XFS lists a POSIX ACL twice to root: as system.posix_acl_access and as
    # the attribute that holds it, trusted.SGI_ACL_FILE (fs/xfs/xfs_xattr.c)
    ap.add_argument("--ignore-xattr", action="append", default=[], metavar="NAME")
    ap.add_argument("--no-owner", action="store_true")
    ap.add_argument("--no-mtime", action="store_true")
    ap.add_argument("--skip-root-time", action="store_true")
    ap.add_argument("--ignore-extra", action="append", default=[],
                    help="an entry of DST absent from SRC to ignore (lost+found)")
    ap.add_argument("trees", nargs="*")
    args = ap.parse_args()
    if args.digest:
        print(digest(args.digest))
        return 0
    if args.debugfs:
        if len(args.trees) != 1:
            ap.error("--debugfs PART SRC")
        n = cmp_debugfs(args.debugfs, args.trees[0], args)
    else:
        if len(args.trees) != 2:
            ap.error("SRC DST")
        n = cmp_trees(args.trees[0], args.trees[1], args)
    if n:
        print("%d difference(s)" % n, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
