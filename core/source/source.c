/* SPDX-License-Identifier: MIT */
/* treedisk: opening a source by what it is (OCI image layout, directory,
 * squashfs image, tar archive).  The one place that decides: an OCI layout
 * by its oci-layout and index.json files (DIR or DIR:REF), a directory by
 * stat, squashfs by blkid, a tar (compressed or not) by libarchive's own
 * format detection. */
#include <blkid/blkid.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "source.h"
#include "td.h"

void td_source_free(struct td_source *s)
{
        if (s)
                s->ops->free(s);
}

/* What blkid sees in path: 0 and *type (caller frees, NULL when nothing is
 * recognised), or a logged negative errno. */
static int probe_type(const char *path, char **type)
{
        blkid_probe pr;
        const char *v = NULL;
        int r;

        *type = NULL;
        errno = 0;
        pr = blkid_new_probe_from_filename(path);
        if (!pr)
                return td_log_errno(errno ? -errno : -EIO, "'%s': cannot open", path);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        r = blkid_do_safeprobe(pr);
        if (r == -2) {
                blkid_free_probe(pr);
                return td_log_error(-EINVAL, "'%s': not a directory, a squashfs image, a tar archive or an OCI image layout "
                                    "(blkid sees several filesystem signatures)", path);
        }
        if (r < 0) {
                blkid_free_probe(pr);
                return td_log_error(-EIO, "'%s': cannot probe it with blkid", path);
        }
        if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && v)
                *type = td_strdup(v);
        blkid_free_probe(pr);
        return 0;
}

char *td_source_abspath(const char *spec)
{
        _cleanup_free_ char *dir = NULL, *ref = NULL;
        char *abs;

        if (td_source_oci_split(spec, &dir, &ref) > 0) {
                _cleanup_free_ char *absdir = realpath(dir, NULL);

                if (!absdir)
                        return NULL;
                return ref ? td_asprintf("%s:%s", absdir, ref) : TAKE_PTR(absdir);
        }
        abs = realpath(spec, NULL);
        return abs;
}

int td_source_open(const char *path, const struct td_scan_opts *opts,
                   struct td_source **ret, struct td_tree *tree)
{
        _cleanup_free_ char *type = NULL;
        char desc[128] = "";
        struct stat st;
        int r;

        *ret = NULL;
        {
                _cleanup_free_ char *dir = NULL, *ref = NULL;

                if (td_source_oci_split(path, &dir, &ref) > 0)
                        return td_source_oci_open(path, dir, ref, opts, ret, tree);
        }
        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return td_log_error(-ENOENT, "'%s': no such file or directory "
                                            "(SOURCE must be a directory, a squashfs image, a tar archive or an "
                                            "OCI image layout DIR[:REF])", path);
                return td_log_errno(-errno, "'%s': cannot stat", path);
        }
        if (S_ISDIR(st.st_mode))
                return td_source_dir_open(path, opts, ret, tree);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return td_log_error(-EINVAL, "'%s': not a directory, a squashfs image, a tar archive or an OCI image layout (it is a %s)",
                                    path, S_ISCHR(st.st_mode) ? "character device" :
                                    S_ISFIFO(st.st_mode) ? "fifo" : S_ISSOCK(st.st_mode) ? "socket" : "special file");

        r = probe_type(path, &type);
        if (r < 0)
                return r;
        if (type && strcmp(type, "squashfs") == 0) {
#ifdef TD_HAVE_SQUASHFS
                return td_source_squashfs_open(path, opts, ret, tree);
#else
                return td_log_error(-ENOTSUP, "'%s': a squashfs image, but this treedisk was built "
                                    "without squashfs support (rebuild with libsquashfuse, -Dsquashfs=enabled)",
                                    path);
#endif
        }
        /* What blkid names is that, not a tar (a tar's first 512 bytes are
         * a header; no filesystem signature lies there). */
        if (type)
                return td_log_error(-EINVAL, "'%s': not a directory, a squashfs image, a tar archive or an OCI image layout "
                                    "(blkid sees: %s)", path, type);
        if (st.st_size == 0 && S_ISREG(st.st_mode))
                return td_log_error(-EINVAL, "'%s': an empty file (SOURCE must be a directory, a squashfs "
                                    "image, a tar archive or an OCI image layout)", path);
        r = td_source_tar_probe(path, desc, sizeof(desc));
        if (r < 0)
                return r;
        if (r > 0)
                return td_source_tar_open(path, opts, ret, tree);
        return td_log_error(-EINVAL, "'%s': not a directory, a squashfs image, a tar archive or an OCI image layout "
                            "(blkid recognises no filesystem; %s)", path, desc);
}
