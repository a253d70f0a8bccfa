/* SPDX-License-Identifier: MIT */
/* treedisk: copy-on-write overlay (format and locking: see overlay.h). */
#include "overlay.h"

#include <assert.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "td.h"

#define C TD_OVERLAY_CHUNK
#define HDR_BYTES 4096u
#define IDX_BYTES 4096u
#define LEAF_SHIFT 12
#define LEAF_ENTRIES (1u << LEAF_SHIFT)
#define OVERLAY_VERSION 1u

static const char hdr_magic[8] = "TDOVRLY";
static const char idx_magic[8] = "TDOVIDX";

struct ovl_header {
        char magic[8];
        uint32_t version;            /* le */
        uint32_t chunk_bytes;        /* le */
        uint64_t image_bytes;        /* le */
        uint64_t first_index;        /* le: offset of the first index block */
        uint8_t id[TD_OVERLAY_ID_BYTES];
        char desc[TD_OVERLAY_DESC_MAX]; /* NUL-terminated */
        uint32_t crc;                /* le: CRC-32C of the 4096-byte block with crc = 0 */
} __attribute__((packed));

struct ovl_entry {
        uint64_t chunk;              /* le */
        uint64_t off;                /* le */
};

struct ovl_index {
        char magic[8];
        uint64_t seq;                /* le: 1 for the first block, +1 each */
        uint64_t next;               /* le: offset reserved for the next block */
        uint32_t n;                  /* le: entries used */
        uint32_t crc;                /* le: CRC-32C of the block with crc = 0 */
        struct ovl_entry e[(IDX_BYTES - 32) / sizeof(struct ovl_entry)];
} __attribute__((packed));

_Static_assert(sizeof(struct ovl_header) <= HDR_BYTES, "header too large");
_Static_assert(sizeof(struct ovl_index) <= IDX_BYTES, "index block too large");

#define IDX_MAX_ENTRIES TD_ARRAY_SIZE(((struct ovl_index *)0)->e)

/* A slot value: 0 absent, off ready, off | POPULATING being filled. */
#define POPULATING 1u

struct td_overlay {
        int fd;
        char *path;                  /* NULL: not kept (a temporary file, or memory) */
        char *name;                  /* for messages: the path, or where the temporary one is */
        atomic_bool full_reported;   /* ENOSPC said once */
        uint64_t size;
        uint64_t n_chunks;
        td_overlay_base_fn base;
        void *base_ctx;
        td_overlay_extent_fn base_extent;

        pthread_mutex_t lock;
        pthread_cond_t cond;         /* a chunk left the POPULATING state */
        uint64_t **leaves;           /* protected by ->lock (the pointers) */
        size_t n_leaves;
        uint64_t next_off;           /* protected by ->lock: allocation cursor */
        struct ovl_entry *pending;   /* protected by ->lock: allocated since last sync (host order) */
        size_t n_pending, cap_pending;

        atomic_bool dirty;           /* data written since the last fdatasync */
        atomic_uint_fast64_t n_used;

        pthread_mutex_t sync_lock;
        uint64_t idx_off;            /* protected by ->sync_lock: where the next index block goes */
        uint64_t idx_seq;            /* protected by ->sync_lock */
};

/* ---- CRC-32C (Castagnoli), table driven ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
                crc_table[i] = c;
        }
}

static uint32_t crc32c(const void *data, size_t len) {
        const uint8_t *p = data;
        uint32_t c = 0xFFFFFFFFu;

        pthread_once(&crc_once, crc_init);
        while (len--)
                c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
}

static const char *ov_name(const struct td_overlay *ov) {
        return ov->name ? ov->name : ov->path ? ov->path : "(memory)";
}

/* A failed write to the backing file: a full disk is said once (the write
 * fails with ENOSPC, the guest sees an I/O error, the daemon goes on);
 * other errors each time. */
static int write_failed(struct td_overlay *ov, int r) {
        if (r == -ENOSPC || r == -EDQUOT) {
                if (!atomic_exchange(&ov->full_reported, true))
                        td_err("overlay %s: no space left for writes: they fail with ENOSPC until "
                               "space is freed (what was written stays)", ov_name(ov));
                return -ENOSPC;
        }
        return td_log_errno(r, "overlay %s: write", ov_name(ov));
}

/* ---- the index: chunk -> slot, two levels ---- */

/* Called with ->lock held. */
static uint64_t slot_get(const struct td_overlay *ov, uint64_t chunk) {
        const uint64_t *leaf = ov->leaves[chunk >> LEAF_SHIFT];
        return leaf ? leaf[chunk & (LEAF_ENTRIES - 1)] : 0;
}

/* Called with ->lock held. */
static void slot_set(struct td_overlay *ov, uint64_t chunk, uint64_t v) {
        uint64_t **leaf = &ov->leaves[chunk >> LEAF_SHIFT];
        if (!*leaf)
                *leaf = td_calloc(LEAF_ENTRIES, sizeof(uint64_t));
        (*leaf)[chunk & (LEAF_ENTRIES - 1)] = v;
}

static bool slot_ready(uint64_t v) {
        return v != 0 && !(v & POPULATING);
}

/* Called with ->lock held. */
static void pending_add(struct td_overlay *ov, uint64_t chunk, uint64_t off) {
        td_grow(&ov->pending, &ov->cap_pending, ov->n_pending + 1, sizeof(*ov->pending));
        ov->pending[ov->n_pending++] = (struct ovl_entry){chunk, off};
}

/* ---- open, create, replay ---- */

static void header_fill(uint8_t blk[HDR_BYTES], const struct td_overlay_params *p) {
        struct ovl_header *h = (struct ovl_header *)blk;

        memset(blk, 0, HDR_BYTES);
        memcpy(h->magic, hdr_magic, sizeof(h->magic));
        h->version = htole32(OVERLAY_VERSION);
        h->chunk_bytes = htole32(C);
        h->image_bytes = htole64(p->size_bytes);
        h->first_index = htole64(HDR_BYTES);
        memcpy(h->id, p->id, sizeof(h->id));
        if (p->desc)
                strncpy(h->desc, p->desc, sizeof(h->desc) - 1);
        h->crc = htole32(crc32c(blk, HDR_BYTES));
}

static int fsync_parent(const char *path) {
        _cleanup_free_ char *copy = td_strdup(path);
        _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd < 0 || fsync(dfd) < 0)
                return -errno;
        return 0;
}

static int overlay_create(struct td_overlay *ov, const struct td_overlay_params *p) {
        uint8_t blk[HDR_BYTES];
        int r;

        header_fill(blk, p);
        r = td_pwrite_all(ov->fd, blk, sizeof(blk), 0);
        if (r >= 0 && fdatasync(ov->fd) < 0)
                r = -errno;
        if (r < 0)
                return td_log_errno(r, "overlay '%s': cannot write its header", ov->path);
        (void)fsync_parent(ov->path);
        ov->idx_off = HDR_BYTES;
        ov->idx_seq = 1;
        ov->next_off = HDR_BYTES + IDX_BYTES;
        td_info("overlay '%s': created", ov->path);
        return 0;
}

static int overlay_replay(struct td_overlay *ov, const struct td_overlay_params *p, uint64_t file_bytes) {
        uint8_t blk[HDR_BYTES];
        struct ovl_header *h = (struct ovl_header *)blk;
        struct ovl_index *ix = (struct ovl_index *)blk;
        uint64_t n_entries = 0;
        uint32_t crc;
        int r;

        if (file_bytes < HDR_BYTES)
                return td_log_error(-EINVAL, "overlay '%s' is not a treedisk overlay (too short): "
                                    "name a new or empty file", ov->path);
        r = td_pread_all(ov->fd, blk, sizeof(blk), 0);
        if (r < 0)
                return td_log_errno(r, "overlay '%s': cannot read its header", ov->path);
        if (memcmp(h->magic, hdr_magic, sizeof(h->magic)) != 0)
                return td_log_error(-EINVAL, "overlay '%s' is not a treedisk overlay: "
                                    "name a new or empty file", ov->path);
        crc = le32toh(h->crc);
        h->crc = 0;
        if (crc32c(blk, sizeof(blk)) != crc)
                return td_log_error(-EINVAL, "overlay '%s': its header is corrupt (checksum)", ov->path);
        if (le32toh(h->version) != OVERLAY_VERSION || le32toh(h->chunk_bytes) != C)
                return td_log_error(-EINVAL, "overlay '%s': version %u, chunk %u bytes is not "
                                    "supported by this treedisk", ov->path,
                                    le32toh(h->version), le32toh(h->chunk_bytes));
        h->desc[sizeof(h->desc) - 1] = 0;
        if (le64toh(h->image_bytes) != p->size_bytes || memcmp(h->id, p->id, sizeof(h->id)) != 0)
                return td_log_error(-EINVAL, "overlay '%s' was made for another image (%s), "
                                    "not this one (%s): mount the same SOURCE with the same "
                                    "options and --seed, or use another overlay file", ov->path, h->desc[0] ? h->desc : "?",
                                    p->desc ? p->desc : "?");

        ov->idx_off = le64toh(h->first_index);
        ov->idx_seq = 1;
        for (;;) {
                if (ov->idx_off % IDX_BYTES != 0 || ov->idx_off < HDR_BYTES)
                        return td_log_error(-EINVAL, "overlay '%s' is corrupt (index block at %" PRIu64 ")",
                                            ov->path, ov->idx_off);
                if (ov->idx_off + IDX_BYTES > file_bytes)
                        break;
                r = td_pread_all(ov->fd, blk, IDX_BYTES, ov->idx_off);
                if (r < 0)
                        return td_log_errno(r, "overlay '%s': cannot read index block at %" PRIu64,
                                            ov->path, ov->idx_off);
                if (memcmp(ix->magic, idx_magic, sizeof(ix->magic)) != 0 ||
                    le64toh(ix->seq) != ov->idx_seq)
                        break;
                crc = le32toh(ix->crc);
                ix->crc = 0;
                if (crc32c(blk, IDX_BYTES) != crc || le32toh(ix->n) > IDX_MAX_ENTRIES)
                        break;          /* torn by a crash: the sync it belongs to never returned */
                for (uint32_t i = 0; i < le32toh(ix->n); i++) {
                        uint64_t chunk = le64toh(ix->e[i].chunk), off = le64toh(ix->e[i].off);
                        if (chunk >= ov->n_chunks || off % C != 0 || off < HDR_BYTES ||
                            off + C > file_bytes)
                                return td_log_error(-EINVAL, "overlay '%s' is corrupt (chunk %" PRIu64
                                                    " at %" PRIu64 ")", ov->path, chunk, off);
                        if (slot_get(ov, chunk) == 0)
                                n_entries++;
                        slot_set(ov, chunk, off);
                }
                ov->idx_seq++;
                ov->idx_off = le64toh(ix->next);
        }
        ov->next_off = TD_MAX(TD_ROUND_UP(file_bytes, (uint64_t)C), ov->idx_off + IDX_BYTES);
        atomic_store(&ov->n_used, n_entries);
        td_info("overlay '%s': reusing %" PRIu64 " written chunks", ov->path, n_entries);
        return 0;
}

int td_overlay_open(const char *path, const struct td_overlay_params *p, struct td_overlay **ret) {
        struct td_overlay *ov;
        struct stat st;
        int r;

        assert(p->base_pread);
        ov = td_calloc(1, sizeof(*ov));
        ov->fd = -1;
        ov->size = p->size_bytes;
        ov->n_chunks = TD_DIV_ROUND_UP(p->size_bytes, (uint64_t)C);
        ov->base = p->base_pread;
        ov->base_ctx = p->base_ctx;
        ov->base_extent = p->base_extent;
        ov->n_leaves = TD_DIV_ROUND_UP(ov->n_chunks, (uint64_t)LEAF_ENTRIES);
        ov->leaves = td_calloc(TD_MAX(ov->n_leaves, (size_t)1), sizeof(*ov->leaves));
        pthread_mutex_init(&ov->lock, NULL);
        pthread_cond_init(&ov->cond, NULL);
        pthread_mutex_init(&ov->sync_lock, NULL);
        atomic_init(&ov->dirty, false);
        atomic_init(&ov->n_used, 0);
        atomic_init(&ov->full_reported, false);

        if (!path && p->memory) {
                ov->fd = memfd_create("treedisk-overlay", MFD_CLOEXEC);
                if (ov->fd < 0) {
                        r = td_log_errno(-errno, "cannot create the in-memory overlay");
                        goto fail;
                }
                ov->next_off = C;       /* 0 means "absent" */
                *ret = ov;
                return 0;
        }
        if (!path) {
                /* An unlinked file, as qemu -snapshot keeps its writes: on
                 * disk, not in the host's memory. */
                ov->name = td_asprintf("(an unlinked file in '%s')", td_tmpdir());
                ov->fd = td_tmpfile("the overlay");
                if (ov->fd < 0) {
                        r = ov->fd;
                        goto fail;
                }
                ov->next_off = C;
                *ret = ov;
                return 0;
        }

        ov->path = td_strdup(path);
        ov->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (ov->fd < 0) {
                r = td_log_errno(-errno, "cannot open overlay '%s'", path);
                goto fail;
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(ov->fd, F_OFD_SETLK, &fl) < 0) {
                if (errno == EAGAIN || errno == EACCES)
                        r = td_log_error(-EBUSY, "overlay '%s' is in use by another treedisk: "
                                         "unmount it first, or use another file", path);
                else
                        r = td_log_errno(-errno, "cannot lock overlay '%s'", path);
                goto fail;
        }
        if (fstat(ov->fd, &st) < 0) {
                r = td_log_errno(-errno, "cannot stat overlay '%s'", path);
                goto fail;
        }
        if (!S_ISREG(st.st_mode)) {
                r = td_log_error(-EINVAL, "overlay '%s' is not a regular file", path);
                goto fail;
        }
        r = st.st_size == 0 ? overlay_create(ov, p) : overlay_replay(ov, p, (uint64_t)st.st_size);
        if (r < 0)
                goto fail;
        *ret = ov;
        return 0;
fail:
        td_overlay_free(ov);
        return r;
}

void td_overlay_free(struct td_overlay *ov) {
        if (!ov)
                return;
        if (ov->fd >= 0)
                close(ov->fd);
        for (size_t i = 0; i < ov->n_leaves; i++)
                free(ov->leaves[i]);
        free(ov->leaves);
        free(ov->pending);
        free(ov->path);
        free(ov->name);
        pthread_mutex_destroy(&ov->lock);
        pthread_cond_destroy(&ov->cond);
        pthread_mutex_destroy(&ov->sync_lock);
        free(ov);
}

uint64_t td_overlay_chunks(struct td_overlay *ov) {
        return atomic_load(&ov->n_used);
}

bool td_overlay_is_empty(struct td_overlay *ov) {
        return atomic_load_explicit(&ov->n_used, memory_order_acquire) == 0;
}

/* ---- read ---- */

int td_overlay_pread(struct td_overlay *ov, void *buf, size_t len, uint64_t off) {
        uint8_t *p = buf;
        int r;

        assert(off <= ov->size && len <= ov->size - off);
        if (td_overlay_is_empty(ov))
                return ov->base(ov->base_ctx, buf, len, off);

        while (len > 0) {
                uint64_t chunk = off / C, v;
                size_t run = TD_MIN(len, (size_t)(C - off % C));
                bool ready;

                /* The longest run from the image, or from consecutive slots. */
                pthread_mutex_lock(&ov->lock);
                v = slot_get(ov, chunk);
                ready = slot_ready(v);
                for (uint64_t c = chunk + 1; run < len; c++) {
                        uint64_t w = slot_get(ov, c);
                        if (ready ? w != v + (c - chunk) * C : slot_ready(w))
                                break;
                        run += TD_MIN(len - run, (size_t)C);
                }
                pthread_mutex_unlock(&ov->lock);

                if (ready) {
                        r = td_pread_all(ov->fd, p, run, v + off % C);
                        if (r < 0)
                                return td_log_errno(r, "overlay '%s': read at %" PRIu64, ov_name(ov), v);
                } else {
                        r = ov->base(ov->base_ctx, p, run, off);
                        if (r < 0)
                                return r;
                }
                p += run, off += run, len -= run;
        }
        return 0;
}

void td_overlay_extent(struct td_overlay *ov, uint64_t off, uint64_t max, uint64_t *len, bool *zero) {
        uint64_t chunk = off / C, end = off + TD_MIN(max, ov->size - off), c, limit;
        bool written;

        assert(off < ov->size && max > 0);
        if (td_overlay_is_empty(ov)) {
                limit = end;
        } else {
                pthread_mutex_lock(&ov->lock);
                written = slot_get(ov, chunk) != 0;
                /* the run of chunks alike (written or not), up to end */
                for (c = chunk + 1; c * C < end; c++) {
                        if (!written && !ov->leaves[c >> LEAF_SHIFT]) {
                                c |= LEAF_ENTRIES - 1;     /* a leaf never written */
                                continue;
                        }
                        if ((slot_get(ov, c) != 0) != written)
                                break;
                }
                pthread_mutex_unlock(&ov->lock);
                limit = TD_MIN(end, c * C);
                if (written) {
                        *len = limit - off;
                        *zero = false;
                        return;
                }
        }
        if (!ov->base_extent) {
                *len = limit - off;
                *zero = false;
                return;
        }
        ov->base_extent(ov->base_ctx, off, limit - off, len, zero);
}

/* ---- write ---- */

/* Fills n freshly allocated slots (chunks first.., at slot) with the image's
 * bytes overlaid by [off, off+len) of buf.  No lock held. */
static int fill_slots(struct td_overlay *ov, uint64_t first, uint64_t n, uint64_t slot,
                      const uint8_t *buf, size_t len, uint64_t off) {
        uint8_t tmp[C];
        uint64_t full_from = 0, full_n = 0;
        int r;

        for (uint64_t i = 0; i <= n; i++) {
                uint64_t cstart = (first + i) * C;
                uint64_t s = TD_MAX(off, cstart), e = TD_MIN(off + len, cstart + C);
                bool full = i < n && s == cstart && e == cstart + C;

                if (full) {
                        if (full_n++ == 0)
                                full_from = i;
                        continue;
                }
                if (full_n > 0) {       /* flush the run of whole chunks straight from buf */
                        uint64_t fs = (first + full_from) * C;
                        r = td_pwrite_all(ov->fd, buf + (fs - off), full_n * C, slot + full_from * C);
                        if (r < 0)
                                return write_failed(ov, r);
                        full_n = 0;
                }
                if (i == n)
                        break;
                /* A chunk written in part: the rest comes from the image. */
                size_t blen = (size_t)TD_MIN((uint64_t)C, ov->size - cstart);
                memset(tmp, 0, sizeof(tmp));
                r = ov->base(ov->base_ctx, tmp, blen, cstart);
                if (r < 0)
                        return r;
                memcpy(tmp + (s - cstart), buf + (s - off), e - s);
                r = td_pwrite_all(ov->fd, tmp, C, slot + i * C);
                if (r < 0)
                        return write_failed(ov, r);
        }
        return 0;
}

int td_overlay_pwrite(struct td_overlay *ov, const void *buf, size_t len, uint64_t off) {
        const uint8_t *p = buf;
        int r;

        assert(off <= ov->size && len <= ov->size - off);
        while (len > 0) {
                uint64_t chunk = off / C, v, n = 1;
                size_t run = TD_MIN(len, (size_t)(C - off % C));

                pthread_mutex_lock(&ov->lock);
                while ((v = slot_get(ov, chunk)) & POPULATING)
                        pthread_cond_wait(&ov->cond, &ov->lock);

                if (v) {
                        /* Written before: rewrite in place, as far as slots are consecutive. */
                        for (uint64_t c = chunk + 1; run < len; c++) {
                                if (slot_get(ov, c) != v + (c - chunk) * C)
                                        break;
                                run += TD_MIN(len - run, (size_t)C);
                        }
                        pthread_mutex_unlock(&ov->lock);
                        r = td_pwrite_all(ov->fd, p, run, v + off % C);
                        if (r < 0)
                                return td_log_errno(r, "overlay '%s': write", ov_name(ov));
                        atomic_store(&ov->dirty, true);   /* after the data, for td_overlay_sync() */
                } else {
                        /* New chunks: allocate consecutive slots, fill them unlocked. */
                        for (uint64_t c = chunk + 1; run < len; c++, n++) {
                                if (slot_get(ov, c) != 0)
                                        break;
                                run += TD_MIN(len - run, (size_t)C);
                        }
                        uint64_t slot = ov->next_off;
                        ov->next_off += n * C;
                        for (uint64_t i = 0; i < n; i++)
                                slot_set(ov, chunk + i, (slot + i * C) | POPULATING);
                        pthread_mutex_unlock(&ov->lock);

                        r = fill_slots(ov, chunk, n, slot, p, run, off);

                        pthread_mutex_lock(&ov->lock);
                        for (uint64_t i = 0; i < n; i++) {
                                slot_set(ov, chunk + i, r < 0 ? 0 : slot + i * C);
                                if (r >= 0)
                                        pending_add(ov, chunk + i, slot + i * C);
                        }
                        if (r >= 0) {
                                atomic_fetch_add_explicit(&ov->n_used, n, memory_order_release);
                                atomic_store(&ov->dirty, true);
                        }
                        pthread_cond_broadcast(&ov->cond);
                        pthread_mutex_unlock(&ov->lock);
                        if (r < 0)
                                return r;
                }
                p += run, off += run, len -= run;
        }
        return 0;
}

/* ---- sync ---- */

static int write_index(struct td_overlay *ov, const struct ovl_entry *e, size_t n) {
        uint8_t blk[IDX_BYTES];
        struct ovl_index *ix = (struct ovl_index *)blk;
        uint64_t next;
        int r;

        assert(n <= IDX_MAX_ENTRIES);
        pthread_mutex_lock(&ov->lock);
        next = ov->next_off;
        ov->next_off += IDX_BYTES;
        pthread_mutex_unlock(&ov->lock);

        memset(blk, 0, sizeof(blk));
        memcpy(ix->magic, idx_magic, sizeof(ix->magic));
        ix->seq = htole64(ov->idx_seq);
        ix->next = htole64(next);
        ix->n = htole32((uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                ix->e[i].chunk = htole64(e[i].chunk);
                ix->e[i].off = htole64(e[i].off);
        }
        ix->crc = htole32(crc32c(blk, sizeof(blk)));
        r = td_pwrite_all(ov->fd, blk, sizeof(blk), ov->idx_off);
        if (r < 0)
                return r;
        ov->idx_off = next;
        ov->idx_seq++;
        return 0;
}

int td_overlay_sync(struct td_overlay *ov) {
        struct ovl_entry *pending;
        size_t n, done = 0;
        bool dirty;
        int r = 0;

        pthread_mutex_lock(&ov->sync_lock);
        pthread_mutex_lock(&ov->lock);
        pending = TAKE_PTR(ov->pending);
        n = ov->n_pending;
        ov->n_pending = ov->cap_pending = 0;
        dirty = atomic_exchange(&ov->dirty, false);
        pthread_mutex_unlock(&ov->lock);

        if (!ov->path || (!dirty && n == 0))
                goto out;

        /* Data first: an index entry must never name a slot that is not durable. */
        if (fdatasync(ov->fd) < 0) {
                r = td_log_errno(-errno, "overlay '%s': fdatasync", ov->path);
                goto out;
        }
        while (done < n) {
                size_t k = TD_MIN(n - done, IDX_MAX_ENTRIES);
                r = write_index(ov, pending + done, k);
                if (r < 0) {
                        td_log_errno(r, "overlay '%s': cannot write its index", ov->path);
                        goto out;
                }
                done += k;
        }
        if (n > 0 && fdatasync(ov->fd) < 0)
                r = td_log_errno(-errno, "overlay '%s': fdatasync", ov->path);
out:
        if (r < 0) {
                /* Keep what was not committed for the next attempt. */
                pthread_mutex_lock(&ov->lock);
                for (size_t i = done; i < n; i++)
                        pending_add(ov, pending[i].chunk, pending[i].off);
                atomic_store(&ov->dirty, true);
                pthread_mutex_unlock(&ov->lock);
        }
        free(pending);
        pthread_mutex_unlock(&ov->sync_lock);
        return r;
}
