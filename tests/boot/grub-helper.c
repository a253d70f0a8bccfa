/* SPDX-License-Identifier: MIT */
/* tests/boot/grub-helper: drives core/disk/boot_grub.c without the image builder,
 * so that its output can be booted on a disk made by standard tools.
 *
 *   grub-helper layout mbr|gpt DISK_BYTES
 *       prints "part_offset part_bytes bios_offset bios_bytes" (bytes)
 *   grub-helper files mbr|gpt DIR FS_UUID [CMDLINE]
 *       scans the names under DIR/boot and DIR/etc, runs td_grub_add_files()
 *       and td_grub_add_fstab(), and writes the files they added into DIR
 *       (DIR is a scratch copy: the real builder never writes a source)
 *   grub-helper place mbr|gpt DISK
 *       patches sector 0 of DISK (a file holding a partition table made for
 *       td_layout_for_disk()'s geometry) and writes core.img where it goes
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "disk/boot_grub.h"
#include "source/source.h"
#include "td.h"

#define SPEC(t) (&(struct td_layout_spec){ .table = (t) })

static int parse_table(const char *s, enum td_table_type *t)
{
        if (strcmp(s, "mbr") == 0)
                *t = TD_TABLE_MBR;
        else if (strcmp(s, "gpt") == 0)
                *t = TD_TABLE_GPT;
        else
                return -EINVAL;
        return 0;
}

/* Adds the names found in dir/sub as nodes (regular files as empty files). */
static void scan_names(struct td_tree *tree, const char *dir, const char *sub)
{
        _cleanup_free_ char *path = td_asprintf("%s/%s", dir, sub);
        struct td_node *n = td_node_new(sub, strlen(sub), S_IFDIR | 0755);
        DIR *d = opendir(path);
        struct dirent *de;

        td_node_add_child(tree->root, n);
        tree->n_nodes++;
        if (!d)
                return;
        while ((de = readdir(d))) {
                struct stat st;
                struct td_node *c;

                if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                c = td_node_new(de->d_name, strlen(de->d_name), st.st_mode);
                c->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
                td_node_add_child(n, c);
                tree->n_nodes++;
        }
        closedir(d);
        td_node_sort_children(n);
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
        size_t done = 0;

        while (done < len) {
                ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -errno;
                done += (size_t)n;
        }
        return 0;
}

/* Writes every regular file node that has data (mem or source) under n. */
static int dump(struct td_node *n, const char *dir)
{
        for (size_t i = 0; i < n->n_children; i++) {
                struct td_node *c = n->children[i];
                _cleanup_free_ char *p = td_asprintf("%s/%s", dir, c->name);

                if (S_ISDIR(c->mode)) {
                        mkdir(p, 0755);
                        if (dump(c, p) < 0)
                                return -1;
                } else if (S_ISREG(c->mode) && (c->mem || c->source)) {
                        _cleanup_free_ uint8_t *buf = td_malloc(c->size);
                        _cleanup_close_ int fd = -1;

                        if (c->mem)
                                memcpy(buf, c->mem, c->size);
                        else if (td_source_pread(c->source, c->file_id, buf, c->size, 0) < 0)
                                return -1;
                        unlink(p);
                        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, c->mode & 07777);
                        if (fd < 0 || write_all(fd, buf, c->size, 0) < 0) {
                                perror(p);
                                return -1;
                        }
                }
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct td_image_opts o;
        enum td_table_type table;
        struct td_layout l;
        struct td_grub *g = NULL;

        td_log_set_max_level(TD_LOG_WARNING);
        if (argc < 4 || parse_table(argv[2], &table) < 0) {
                fprintf(stderr, "usage: see the comment at the top of tests/boot/grub-helper.c\n");
                return 2;
        }
        memset(&o, 0, sizeof(o));
        o.source_date_epoch = getenv("SOURCE_DATE_EPOCH") ? strtoll(getenv("SOURCE_DATE_EPOCH"), NULL, 10) : -1;
        o.table = table;
        o.grub = true;
        o.grub_dir = getenv("TD_GRUB_DIR");
        o.firmware = TD_FIRMWARE_BIOS;

        if (strcmp(argv[1], "layout") == 0) {
                uint64_t bytes = strtoull(argv[3], NULL, 0);

                if (td_layout_for_disk(SPEC(table), bytes, &l) < 0)
                        return 1;
                printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", l.part_offset, l.part_bytes,
                       l.bios_offset, l.bios_bytes);
                return 0;
        }

        if (strcmp(argv[1], "files") == 0 && argc >= 5) {
                struct td_tree tree = { .root = td_node_new("", 0, S_IFDIR | 0755), .n_nodes = 1 };
                int r;

                scan_names(&tree, argv[3], "boot");
                scan_names(&tree, argv[3], "etc");
                if (td_grub_prepare(&o, table, "U-U", &g) < 0)
                        return 1;
                r = td_grub_add_files(g, &tree, argv[4], argc > 5 ? argv[5] : NULL);
                if (r == 0)
                        r = td_grub_add_fstab(&tree, &o, argv[4], NULL);
                if (r == 0)
                        r = dump(tree.root, argv[3]);
                td_tree_done(&tree);
                td_grub_free(g);
                return r < 0 ? 1 : 0;
        }

        if (strcmp(argv[1], "place") == 0) {
                _cleanup_close_ int fd = open(argv[3], O_RDWR | O_CLOEXEC);
                _cleanup_free_ uint8_t *core = NULL;
                uint8_t mbr[512];
                size_t core_len;
                uint64_t core_off;
                struct stat st;

                if (fd < 0 || fstat(fd, &st) < 0 || pread(fd, mbr, 512, 0) != 512) {
                        perror(argv[3]);
                        return 1;
                }
                if (td_layout_for_disk(SPEC(table), (uint64_t)st.st_size, &l) < 0)
                        return 1;
                if (td_grub_prepare(&o, table, "U-U", &g) < 0)
                        return 1;
                if (td_grub_place(g, &l, mbr, &core, &core_len, &core_off) < 0)
                        return 1;
                if (write_all(fd, mbr, 512, 0) < 0 || write_all(fd, core, core_len, core_off) < 0) {
                        perror(argv[3]);
                        return 1;
                }
                printf("core.img %zu bytes at %" PRIu64 "\n", core_len, core_off);
                td_grub_free(g);
                return 0;
        }
        fprintf(stderr, "usage: see the comment at the top of tests/boot/grub-helper.c\n");
        return 2;
}
