/* SPDX-License-Identifier: MIT */
/* treedisk: an OCI image layout as SOURCE, as the OCI image-spec v1.1
 * defines it: image-layout.md (oci-layout, index.json, blobs/<alg>/<hex>),
 * image-index.md, manifest.md, descriptor.md and layer.md.  Docker's
 * schema-2 manifest and manifest list (as skopeo copies them) are read too.
 *
 * SOURCE is "DIR:REF" (REF = the manifest's
 * org.opencontainers.image.ref.name annotation, as umoci and skopeo's oci:
 * transport write it; an "oci:" prefix is accepted) or a bare DIR whose
 * index.json lists one manifest.  An image index (top level or nested)
 * with several manifests picks linux/amd64.  Every blob read (indexes,
 * manifest, config, layers) must have the size and the sha256 its
 * descriptor gives; other digest algorithms are refused.
 *
 * The layers are then applied in order by td_tar_layers_open(), with
 * whiteouts: file data stays in the layer blobs (an uncompressed layer is
 * read in place; a compressed one through its decompressed copy, as for a
 * compressed tar).  JSON is parsed with jansson; sha256 is OpenSSL's. */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"
#include "td.h"

#define JSON_MAX (16u << 20)  /* index.json, an index, a manifest, a config */
#define NEST_MAX 4            /* indexes inside indexes */
#define REF_ANNOTATION "org.opencontainers.image.ref.name"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

struct oci {
        const char *dir;     /* the layout directory */
        const char *display; /* SOURCE as the user wrote it */
};

/* A descriptor (descriptor.md): borrowed from its JSON. */
struct desc {
        const char *media_type;
        const char *hex;     /* the sha256, 64 lowercase hex digits */
        uint64_t size;
        const char *ref;     /* its ref.name annotation, or NULL */
        const char *os, *arch, *variant; /* its platform, or NULL */
};

static bool is_layout(const char *dir)
{
        _cleanup_free_ char *a = td_asprintf("%s/oci-layout", dir);
        _cleanup_free_ char *b = td_asprintf("%s/index.json", dir);
        struct stat st;

        return stat(a, &st) == 0 && S_ISREG(st.st_mode) && stat(b, &st) == 0 && S_ISREG(st.st_mode);
}

int td_source_oci_split(const char *spec, char **dir, char **ref)
{
        const char *s = spec;
        struct stat st;

        *dir = *ref = NULL;
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1) {
                        if (strncmp(spec, "oci:", 4) != 0)
                                break;
                        s = spec + 4;
                }
                if (stat(s, &st) == 0) {
                        if (S_ISDIR(st.st_mode) && is_layout(s)) {
                                *dir = td_strdup(s);
                                return 1;
                        }
                        if (pass == 0)
                                return 0; /* it exists and is something else */
                }
                /* DIR:REF: a directory name holds no ':' here (as in skopeo), REF may */
                for (const char *c = strchr(s, ':'); c; c = strchr(c + 1, ':')) {
                        _cleanup_free_ char *d = td_strndup(s, (size_t)(c - s));

                        if (*d && stat(d, &st) == 0 && S_ISDIR(st.st_mode) && is_layout(d)) {
                                *dir = TAKE_PTR(d);
                                *ref = c[1] ? td_strdup(c + 1) : NULL;
                                return 1;
                        }
                }
        }
        return 0;
}

/* Reads a whole small file (at most JSON_MAX bytes) from fd. */
static int read_small(struct oci *o, int fd, const char *what, char **buf, size_t *len)
{
        struct stat st;
        size_t got = 0;

        if (fstat(fd, &st) < 0)
                return td_log_errno(-errno, "'%s': %s: cannot stat", o->display, what);
        if (st.st_size > JSON_MAX)
                return td_log_error(-EFBIG, "'%s': %s is %" PRId64 " bytes, more than the %u MiB a "
                                    "JSON document of an image may have here", o->display, what,
                                    (int64_t)st.st_size, JSON_MAX >> 20);
        *buf = td_malloc((size_t)st.st_size + 1);
        while (got < (size_t)st.st_size) {
                ssize_t n = pread(fd, *buf + got, (size_t)st.st_size - got, (off_t)got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        free(*buf);
                        *buf = NULL;
                        return td_log_errno(n < 0 ? -errno : -EIO, "'%s': %s: cannot read", o->display, what);
                }
                got += (size_t)n;
        }
        (*buf)[got] = '\0';
        *len = got;
        return 0;
}

/* The sha256 of fd's first size bytes, as hex, into hex[65]. */
static int hash_fd(struct oci *o, int fd, uint64_t size, const char *what, char hex[65])
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const size_t chunk = 4u << 20;
        _cleanup_free_ uint8_t *buf = td_malloc(chunk);
        unsigned char md[32];
        unsigned md_len = 0;
        uint64_t off = 0;

        if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(ctx);
                return td_log_error(-ENOMEM, "'%s': cannot set up sha256 (OpenSSL)", o->display);
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        while (off < size) {
                ssize_t n = pread(fd, buf, (size_t)TD_MIN((uint64_t)chunk, size - off), (off_t)off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        EVP_MD_CTX_free(ctx);
                        return td_log_errno(n < 0 ? -errno : -EIO, "'%s': %s: cannot read it", o->display, what);
                }
                EVP_DigestUpdate(ctx, buf, (size_t)n);
                off += (uint64_t)n;
        }
        EVP_DigestFinal_ex(ctx, md, &md_len);
        EVP_MD_CTX_free(ctx);
        for (unsigned i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return 0;
}

/* Opens the blob d names, checks its size and sha256: *fd, or a logged
 * negative errno naming the blob.  what says what it is for. */
static int open_blob(struct oci *o, const struct desc *d, const char *what, int *ret)
{
        _cleanup_free_ char *path = td_asprintf("%s/blobs/sha256/%s", o->dir, d->hex);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char hex[65];
        struct stat st;
        int r;

        if (fd < 0 && errno == ENOENT)
                return td_log_error(-ENOENT, "'%s': %s: blob sha256:%s is missing (no '%s'): the "
                                    "layout is incomplete; copy the image again", o->display, what,
                                    d->hex, path);
        if (fd < 0 || fstat(fd, &st) < 0)
                return td_log_errno(-errno, "'%s': %s: cannot open '%s'", o->display, what, path);
        if (!S_ISREG(st.st_mode))
                return td_log_error(-EINVAL, "'%s': %s: '%s' is not a regular file", o->display, what, path);
        if ((uint64_t)st.st_size != d->size)
                return td_log_error(-EINVAL, "'%s': %s: blob sha256:%s is %" PRId64 " bytes, its "
                                    "descriptor says %" PRIu64 ": the layout is corrupt; copy the "
                                    "image again", o->display, what, d->hex, (int64_t)st.st_size, d->size);
        r = hash_fd(o, fd, d->size, what, hex);
        if (r < 0)
                return r;
        if (strcmp(hex, d->hex) != 0)
                return td_log_error(-EINVAL, "'%s': %s: blob sha256:%s does not match its digest (its "
                                    "content hashes to sha256:%s): the layout is corrupt or was "
                                    "changed; copy the image again", o->display, what, d->hex, hex);
        *ret = TAKE_FD(fd);
        return 0;
}

static json_t *parse_json(struct oci *o, const char *buf, size_t len, const char *what)
{
        json_error_t err;
        json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);

        if (!j) {
                td_err("'%s': %s is no valid JSON: %s (line %d)", o->display, what, err.text, err.line);
                return NULL;
        }
        if (!json_is_object(j)) {
                td_err("'%s': %s is no JSON object", o->display, what);
                json_decref(j);
                return NULL;
        }
        return j;
}

/* A blob's JSON (an index, a manifest, a config), checked against d. */
static json_t *load_blob_json(struct oci *o, const struct desc *d, const char *what)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len;

        if (d->size > JSON_MAX) {
                td_err("'%s': %s: blob sha256:%s is %" PRIu64 " bytes, more than the %u MiB a JSON "
                       "document of an image may have here", o->display, what, d->hex, d->size, JSON_MAX >> 20);
                return NULL;
        }
        if (open_blob(o, d, what, &fd) < 0 || read_small(o, fd, what, &buf, &len) < 0)
                return NULL;
        return parse_json(o, buf, len, what);
}

static const char *get_str(json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);

        return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Reads a descriptor; a logged -EINVAL when it is malformed. */
static int parse_desc(struct oci *o, json_t *j, const char *what, struct desc *d)
{
        const char *digest = get_str(j, "digest");
        json_t *size = json_object_get(j, "size"), *ann, *plat;

        *d = (struct desc){ 0 };
        if (!json_is_object(j))
                return td_log_error(-EINVAL, "'%s': %s: a descriptor that is no JSON object",
                                    o->display, what);
        d->media_type = get_str(j, "mediaType");
        if (!d->media_type)
                return td_log_error(-EINVAL, "'%s': %s: a descriptor without a mediaType", o->display, what);
        if (!digest)
                return td_log_error(-EINVAL, "'%s': %s: a descriptor without a digest", o->display, what);
        if (strncmp(digest, "sha256:", 7) != 0) {
                const char *colon = strchr(digest, ':');

                return td_log_error(-ENOTSUP, "'%s': %s: digest '%.*s...': only sha256 digests are "
                                    "supported", o->display, what,
                                    colon ? (int)TD_MIN(colon - digest, 32) : 32, digest);
        }
        d->hex = digest + 7;
        if (strlen(d->hex) != 64 || strspn(d->hex, "0123456789abcdef") != 64)
                return td_log_error(-EINVAL, "'%s': %s: digest '%.80s' is no sha256 (64 lowercase hex "
                                    "digits)", o->display, what, digest);
        if (!json_is_integer(size) || json_integer_value(size) < 0)
                return td_log_error(-EINVAL, "'%s': %s: descriptor sha256:%s has no valid size",
                                    o->display, what, d->hex);
        d->size = (uint64_t)json_integer_value(size);
        ann = json_object_get(j, "annotations");
        if (json_is_object(ann))
                d->ref = get_str(ann, REF_ANNOTATION);
        plat = json_object_get(j, "platform");
        if (json_is_object(plat)) {
                d->os = get_str(plat, "os");
                d->arch = get_str(plat, "architecture");
                d->variant = get_str(plat, "variant");
        }
        return 0;
}

static bool is_index_type(const char *mt)
{
        return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

static bool is_manifest_type(const char *mt)
{
        return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0;
}

static bool is_linux_amd64(const struct desc *d)
{
        return d->os && d->arch && strcmp(d->os, "linux") == 0 && strcmp(d->arch, "amd64") == 0;
}

/* "a, b, c" of what an index lists (ref names, else platforms, else digests). */
static char *list_entries(json_t *manifests)
{
        char *out = td_strdup("");
        size_t i;
        json_t *m;

        json_array_foreach(manifests, i, m) {
                const char *ref = NULL, *os = NULL, *arch = NULL, *digest = get_str(m, "digest");
                json_t *ann = json_object_get(m, "annotations"), *plat = json_object_get(m, "platform");
                char *next;

                if (json_is_object(ann))
                        ref = get_str(ann, REF_ANNOTATION);
                if (json_is_object(plat)) {
                        os = get_str(plat, "os");
                        arch = get_str(plat, "architecture");
                }
                if (ref)
                        next = td_asprintf("%s%s'%s'", out, i ? ", " : "", ref);
                else if (os && arch)
                        next = td_asprintf("%s%s%s/%s", out, i ? ", " : "", os, arch);
                else
                        next = td_asprintf("%s%s%.19s", out, i ? ", " : "", digest ? digest : "?");
                free(out);
                out = next;
                if (i >= 20) {
                        next = td_asprintf("%s, ...", out);
                        free(out);
                        return next;
                }
        }
        return out;
}

/* Picks the manifest from an index (index.json or a nested one): by ref
 * (top level only), else the only one, else linux/amd64.  *chosen is a
 * manifest's descriptor; *held keeps the JSON it points into alive. */
static int pick_manifest(struct oci *o, json_t *index, const char *what, const char *ref, int depth,
                         struct desc *chosen, json_t **held)
{
        json_t *manifests = json_object_get(index, "manifests"), *m, *pick = NULL;
        json_t *schema = json_object_get(index, "schemaVersion");
        size_t i, n_match = 0, n_platform = 0;
        struct desc d;
        int r;

        if (!json_is_integer(schema) || json_integer_value(schema) != 2)
                return td_log_error(-EINVAL, "'%s': %s: schemaVersion is not 2", o->display, what);
        if (!json_is_array(manifests))
                return td_log_error(-EINVAL, "'%s': %s has no \"manifests\" array", o->display, what);
        json_array_foreach(manifests, i, m) {
                r = parse_desc(o, m, what, &d);
                if (r < 0)
                        return r;
                if (ref && (!d.ref || strcmp(d.ref, ref) != 0))
                        continue;
                n_match++;
                if (!pick)
                        pick = m;
        }
        if (n_match > 1) {
                /* several (for the ref, or no ref given): the platform decides */
                pick = NULL;
                json_array_foreach(manifests, i, m) {
                        parse_desc(o, m, what, &d);
                        if (ref && (!d.ref || strcmp(d.ref, ref) != 0))
                                continue;
                        if (is_linux_amd64(&d)) {
                                n_platform++;
                                if (!pick)
                                        pick = m;
                        }
                }
                if (n_platform != 1) {
                        _cleanup_free_ char *list = list_entries(manifests);

                        if (!ref && depth == 0)
                                return td_log_error(-EINVAL, "'%s': %s lists %zu manifests and no "
                                                    "single linux/amd64 one; name one as %s:REF "
                                                    "(it lists %s)", o->display, what, n_match,
                                                    o->dir, list);
                        return td_log_error(-EINVAL, "'%s': %s holds %zu manifests%s%s%s and %s "
                                            "linux/amd64 one (it lists %s)", o->display, what, n_match,
                                            ref ? " named '" : "", ref ? ref : "", ref ? "'" : "",
                                            n_platform ? "more than one" : "no", list);
                }
        }
        if (!pick) {
                _cleanup_free_ char *list = list_entries(manifests);

                if (ref)
                        return td_log_error(-ENOENT, "'%s': %s names no manifest '%s' (it lists %s)",
                                            o->display, what, ref, *list ? list : "nothing");
                return td_log_error(-ENOENT, "'%s': %s lists no manifest", o->display, what);
        }
        parse_desc(o, pick, what, &d);
        if (is_manifest_type(d.media_type)) {
                *chosen = d;
                *held = json_incref(index);
                return 0;
        }
        if (is_index_type(d.media_type)) {
                _cleanup_free_ char *w = td_asprintf("image index sha256:%.12s", d.hex);
                json_t *nested;

                if (depth >= NEST_MAX)
                        return td_log_error(-ELOOP, "'%s': %s: indexes nested more than %d deep",
                                            o->display, what, NEST_MAX);
                nested = load_blob_json(o, &d, w);
                if (!nested)
                        return -EINVAL;
                r = pick_manifest(o, nested, w, NULL, depth + 1, chosen, held);
                json_decref(nested);
                return r;
        }
        return td_log_error(-ENOTSUP, "'%s': %s: sha256:%.12s is a '%s', neither an image manifest nor "
                            "an image index", o->display, what, d.hex, d.media_type);
}

static bool is_layer_type(const char *mt)
{
        static const char *const ok[] = {
                "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "application/vnd.oci.image.layer.v1.tar+zstd",
                "application/vnd.oci.image.layer.nondistributable.v1.tar",
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        };

        for (size_t i = 0; i < TD_ARRAY_SIZE(ok); i++)
                if (strcmp(mt, ok[i]) == 0)
                        return true;
        return false;
}

struct layers {
        struct td_tar_layer_spec *specs;
        char **names;
        size_t n;
};

static void layers_done(struct layers *l)
{
        for (size_t i = 0; i < l->n; i++) {
                if (l->specs[i].fd >= 0)
                        close(l->specs[i].fd);
                free((char *)l->specs[i].path);
                free(l->names[i]);
        }
        free(l->specs);
        free(l->names);
}

/* The manifest's config (checked, and its architecture looked at) and
 * layers (each blob opened and checked) into *out. */
static int read_manifest(struct oci *o, const struct desc *md, struct layers *out)
{
        _cleanup_free_ char *what = td_asprintf("manifest sha256:%.12s", md->hex);
        json_t *man = load_blob_json(o, md, what), *layers, *cfg_j, *l;
        struct desc cd, ld;
        size_t i;
        int r = 0;

        if (!man)
                return -EINVAL;
        if (!json_is_integer(json_object_get(man, "schemaVersion")) ||
            json_integer_value(json_object_get(man, "schemaVersion")) != 2) {
                r = td_log_error(-EINVAL, "'%s': %s: schemaVersion is not 2", o->display, what);
                goto out;
        }
        cfg_j = json_object_get(man, "config");
        layers = json_object_get(man, "layers");
        if (!json_is_object(cfg_j) || !json_is_array(layers)) {
                r = td_log_error(-EINVAL, "'%s': %s has no \"config\" object or no \"layers\" array",
                                 o->display, what);
                goto out;
        }
        r = parse_desc(o, cfg_j, what, &cd);
        if (r < 0)
                goto out;
        {
                _cleanup_free_ char *cw = td_asprintf("config sha256:%.12s", cd.hex);
                json_t *cfg = load_blob_json(o, &cd, cw);
                const char *arch;

                if (!cfg) {
                        r = -EINVAL;
                        goto out;
                }
                arch = get_str(cfg, "architecture");
                if (arch && strcmp(arch, "amd64") != 0)
                        td_warn("'%s': the image is for %s, not amd64: its programs will not run on "
                                "the x86-64 machines treedisk's GRUB boots", o->display, arch);
                json_decref(cfg);
        }
        if (json_array_size(layers) == 0 || json_array_size(layers) > UINT16_MAX) {
                r = td_log_error(-EINVAL, "'%s': %s lists %zu layers (1 to %u are possible)", o->display,
                                 what, json_array_size(layers), UINT16_MAX);
                goto out;
        }
        out->specs = td_calloc(json_array_size(layers), sizeof(*out->specs));
        out->names = td_calloc(json_array_size(layers), sizeof(*out->names));
        json_array_foreach(layers, i, l) {
                _cleanup_free_ char *lw = td_asprintf("layer %zu of %zu", i + 1, json_array_size(layers));
                int fd = -1;

                r = parse_desc(o, l, lw, &ld);
                if (r < 0)
                        goto out;
                if (!is_layer_type(ld.media_type)) {
                        r = td_log_error(-ENOTSUP, "'%s': %s: blob sha256:%.12s has media type '%s', "
                                         "not a tar layer (uncompressed, gzip or zstd)", o->display, lw,
                                         ld.hex, ld.media_type);
                        goto out;
                }
                r = open_blob(o, &ld, lw, &fd);
                if (r < 0)
                        goto out;
                out->specs[i].fd = fd;
                out->specs[i].path = td_asprintf("%s/blobs/sha256/%s", o->dir, ld.hex);
                out->names[i] = td_asprintf("%s (%s, sha256:%.12s)", o->display, lw, ld.hex);
                out->specs[i].name = out->names[i];
                out->n = i + 1;
        }
out:
        json_decref(man);
        return r;
}

int td_source_oci_open(const char *spec, const char *dir, const char *ref,
                       const struct td_scan_opts *opts, struct td_source **ret, struct td_tree *tree)
{
        struct oci o = { .dir = dir, .display = spec };
        _cleanup_free_ char *lpath = td_asprintf("%s/oci-layout", dir);
        _cleanup_free_ char *ipath = td_asprintf("%s/index.json", dir);
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct layers layers = { 0 };
        json_t *j, *held = NULL;
        struct desc md;
        const char *v;
        size_t len;
        int r;

        fd = open(lpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return td_log_errno(-errno, "'%s': cannot open '%s'", spec, lpath);
        r = read_small(&o, fd, "oci-layout", &buf, &len);
        if (r < 0)
                return r;
        j = parse_json(&o, buf, len, "oci-layout");
        if (!j)
                return -EINVAL;
        v = get_str(j, "imageLayoutVersion");
        if (!v || strncmp(v, "1.", 2) != 0) {
                r = td_log_error(-ENOTSUP, "'%s': oci-layout: imageLayoutVersion '%s' (1.x is supported)",
                                 spec, v ? v : "(none)");
                json_decref(j);
                return r;
        }
        json_decref(j);
        close(fd);
        free(buf);
        buf = NULL;

        fd = open(ipath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return td_log_errno(-errno, "'%s': cannot open '%s'", spec, ipath);
        r = read_small(&o, fd, "index.json", &buf, &len);
        if (r < 0)
                return r;
        j = parse_json(&o, buf, len, "index.json");
        if (!j)
                return -EINVAL;
        r = pick_manifest(&o, j, "index.json", ref, 0, &md, &held);
        if (r == 0)
                r = read_manifest(&o, &md, &layers);
        json_decref(held);
        json_decref(j);
        if (r == 0) {
                for (size_t i = 0; i < layers.n; i++)
                        td_debug("'%s': layer %zu: '%s'", spec, i + 1, layers.specs[i].path);
                r = td_tar_layers_open(spec, layers.specs, layers.n, true, opts, ret, tree);
                for (size_t i = 0; i < layers.n; i++)
                        layers.specs[i].fd = -1; /* taken */
        }
        layers_done(&layers);
        return r;
}
