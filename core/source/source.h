/* SPDX-License-Identifier: MIT */
/* treedisk: sources of trees (a directory, later a squashfs image or a tar).
 * A source is scanned once into a struct td_tree, then only read: the image's
 * read path calls ->pread for the bytes of regular files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tree.h"

struct td_source;

struct td_source_ops {
        const char *kind; /* "directory", "squashfs" */
        /* Reads exactly len bytes at off of file file_id into buf.  The range
         * lies within the size the file had when scanned.  Returns 0, or a
         * negative errno: -EIO when the file changed (size, mtime, inode) or
         * vanished since the scan, or a short read happened; the path is logged
         * once per file.  Thread-safe; never blocks on another reader's I/O. */
        int (*pread)(struct td_source *s, uint32_t file_id, void *buf, size_t len, uint64_t off);
        /* Path of the file as the user knows it (for messages). */
        const char *(*file_path)(struct td_source *s, uint32_t file_id);
        void (*free)(struct td_source *s);
};

struct td_source {
        const struct td_source_ops *ops;
};

struct td_scan_opts {
        bool skip_unreadable; /* warn and leave out unreadable entries instead of failing */
        unsigned max_open_fds; /* bound of the fd cache; 0: derived from RLIMIT_NOFILE */
        /* Entries a directory scan leaves out, by identity, with a note: the
         * image's own output file, the mountpoint and the overlay file, when
         * they lie inside SOURCE (as tar leaves out its own archive).  why[i]
         * says what. */
        struct { dev_t dev; ino_t ino; const char *why; } exclude[3];
        size_t n_exclude;
};

/* Scans the directory at path into *tree (root node = the directory itself;
 * its owner, mode and times become the filesystem root's).  Never writes to
 * the tree; never follows symlinks; names sorted with strcmp.  Errors are
 * logged with the path and what to do; returns a negative errno.
 * Regular files with data get node->source = *ret and a file_id; a sparse
 * file gets its data ranges; a hard link's later names get ->link_to and no
 * data fields of their own.  The nodes point to *ret: free the tree first. */
int td_source_dir_open(const char *path, const struct td_scan_opts *opts,
                       struct td_source **ret, struct td_tree *tree);

/* Detects what path is (directory; squashfs image through libblkid) and opens
 * it.  Anything else: a clear error naming what blkid saw. */
int td_source_open(const char *path, const struct td_scan_opts *opts,
                   struct td_source **ret, struct td_tree *tree);

/* SOURCE as an absolute path (realpath; "ABSDIR:REF" for an OCI layout
 * with a REF), for a daemon whose cwd becomes "/".  NULL with errno set
 * when it does not resolve.  Caller frees. */
char *td_source_abspath(const char *spec);

#ifdef TD_HAVE_SQUASHFS
/* core/source/squashfs.c: scans the squashfs image at path into *tree. */
int td_source_squashfs_open(const char *path, const struct td_scan_opts *opts,
                            struct td_source **ret, struct td_tree *tree);
#endif

/* core/source/tar.c: 1 when libarchive reads path as a tar archive
 * (uncompressed or through any of its decompression filters), 0 when not
 * (desc then says what it saw), or a logged negative errno. */
int td_source_tar_probe(const char *path, char *desc, size_t desc_len);
/* Scans the tar archive at path into *tree; file data stays in the archive
 * (or, compressed, in a decompressed copy under $TMPDIR). */
int td_source_tar_open(const char *path, const struct td_scan_opts *opts,
                       struct td_source **ret, struct td_tree *tree);

/* core/source/oci.c.  1 when spec names an OCI image layout: a directory
 * holding oci-layout and index.json, as "DIR", "DIR:REF" or "oci:DIR[:REF]"
 * (*dir and *ref, NULL when none, for the caller to free); 0 when not. */
int td_source_oci_split(const char *spec, char **dir, char **ref);
/* Opens the image REF (or the only one) of the layout in dir; spec names it
 * in messages.  Checks every blob's size and sha256, then applies the
 * layers with td_tar_layers_open(). */
int td_source_oci_open(const char *spec, const char *dir, const char *ref,
                       const struct td_scan_opts *opts, struct td_source **ret, struct td_tree *tree);

/* Tar archives applied in order onto one tree (core/source/tar.c): the
 * layers of an OCI image.  path is opened; name is what messages call it. */
struct td_tar_layer_spec {
        const char *path;
        const char *name;
        int fd;           /* path opened already (taken over, even on error), or -1 */
};
/* Scans specs[0..n) (1 <= n <= 65535) into *tree, each over the ones before
 * as extraction in that order would; with whiteouts, ".wh." entries delete
 * (OCI image-spec layer.md).  name names the source in messages.  File data
 * stays in each archive (or its decompressed copy).  Returns 0 or a logged
 * negative errno (the tree is then empty). */
int td_tar_layers_open(const char *name, const struct td_tar_layer_spec *specs, size_t n,
                       bool whiteouts, const struct td_scan_opts *opts,
                       struct td_source **ret, struct td_tree *tree);

static inline int td_source_pread(struct td_source *s, uint32_t file_id, void *buf,
                                  size_t len, uint64_t off)
{
        return s->ops->pread(s, file_id, buf, len, off);
}

void td_source_free(struct td_source *s);
