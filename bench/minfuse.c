/* SPDX-License-Identifier: MIT */
/* bench/minfuse: the smallest useful low-level FUSE server: one file, "data",
 * whose bytes are those of one backing file, read with pread() and replied
 * with fuse_reply_buf(); multithreaded, 1 MiB max_read, keep_cache: the same
 * settings as treedisk.  bench/fuse-read.sh times a first read of it beside
 * treedisk's disk.img: the ceiling of a first read through FUSE on this
 * kernel (DESIGN.md, "Read speed through FUSE").  Not installed.
 *   minfuse BACKING MOUNTPOINT        (stays in the foreground) */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int backing_fd;
static off_t backing_size;
static pthread_key_t buf_key;

static void fill_stat(fuse_ino_t ino, struct stat *st)
{
        memset(st, 0, sizeof(*st));
        st->st_ino = ino;
        st->st_uid = getuid();
        st->st_gid = getgid();
        if (ino == FUSE_ROOT_ID) {
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 2;
        } else {
                st->st_mode = S_IFREG | 0444;
                st->st_nlink = 1;
                st->st_size = backing_size;
        }
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
        conn->max_read = 1 << 20;
        conn->max_readahead = 1 << 20;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct fuse_entry_param e;

        if (parent != FUSE_ROOT_ID || strcmp(name, "data") != 0) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        memset(&e, 0, sizeof(e));
        e.ino = 2;
        e.attr_timeout = e.entry_timeout = 3600;
        fill_stat(2, &e.attr);
        fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct stat st;

        fill_stat(ino, &st);
        fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        fi->keep_cache = 1;
        fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        char *buf = pthread_getspecific(buf_key);
        ssize_t n;

        if (!buf) {
                buf = malloc(1 << 20);
                pthread_setspecific(buf_key, buf);
        }
        if (size > 1 << 20)
                size = 1 << 20;
        n = pread(backing_fd, buf, size, off);
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_buf(req, buf, (size_t)n);
}

static const struct fuse_lowlevel_ops ops = {
        .init = op_init,
        .lookup = op_lookup,
        .getattr = op_getattr,
        .open = op_open,
        .read = op_read,
};

int main(int argc, char **argv)
{
        char *fargv[] = { argv[0], "-o", "max_read=1048576,fsname=minfuse", NULL };
        struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
        struct fuse_loop_config *cfg;
        struct fuse_session *se;
        struct stat st;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: minfuse BACKING MOUNTPOINT\n");
                return 2;
        }
        backing_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (backing_fd < 0 || fstat(backing_fd, &st) < 0) {
                perror(argv[1]);
                return 1;
        }
        backing_size = st.st_size;
        pthread_key_create(&buf_key, free);
        se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
        if (!se || fuse_set_signal_handlers(se) < 0 || fuse_session_mount(se, argv[2]) < 0)
                return 1;
        cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(cfg, 1);
        fuse_loop_cfg_set_max_threads(cfg, 16);
        r = fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
        fuse_session_unmount(se);
        fuse_remove_signal_handlers(se);
        fuse_session_destroy(se);
        return r ? 1 : 0;
}
