/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an OCI image layout as SOURCE (core/source/oci.c and
 * the layer path of core/source/tar.c).  The first input byte picks what
 * the rest of the input becomes in a layout written under $TMPDIR:
 *
 *   0  index.json (the layout also holds one valid manifest, config and
 *      empty layer, whose digests the seed corpus uses)
 *   1  the manifest blob of ref "f" (index.json made to point at it, with
 *      the right digest; the valid config and empty layer are there)
 *   2  the layers: the rest split at each "TDLAYER!" into up to 8
 *      uncompressed tar layers (whiteouts across layers), with a valid
 *      index, manifest and config made around them
 *
 * The image is opened as td_source_open() would, and every file's bytes
 * are read back.  Errors are expected; crashes, sanitizer reports and
 * leaks are the findings.  Seeds: tests/fuzz/corpus/oci (tests/fuzz/make-oci-seeds.py).
 *
 *   build-fuzz/tests/fuzz/fuzz-oci tests/fuzz/corpus/oci */
#include <fcntl.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define SEP "TDLAYER!"
#define MAX_LAYERS 8

static const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
static uint8_t empty_layer[1024];
static char dir[256];
/* blobs written by this input (removed after it), and the fixed ones */
static char written[MAX_LAYERS + 4][65];
static size_t n_written;
static char fixed[3][65];


/* Writes a blob, its sha256 as hex into hex[65]. */
static void put_blob(const void *buf, size_t len, char hex[65])
{
        unsigned char md[32];
        unsigned md_len = 0;
        char path[400];
        int fd;

        EVP_Digest(buf, len, md, &md_len, EVP_sha256(), NULL);
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, hex);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                abort();
        if (len && write(fd, buf, len) != (ssize_t)len)
                abort();
        close(fd);
        if (n_written < sizeof(written) / sizeof(written[0]))
                memcpy(written[n_written++], hex, 65);
}

static void remove_written(void)
{
        char path[400];

        for (size_t i = 0; i < n_written; i++) {
                bool keep = false;

                for (size_t j = 0; j < 3; j++)
                        keep |= strcmp(written[i], fixed[j]) == 0;
                snprintf(path, sizeof(path), "%s/blobs/sha256/%.64s", dir, written[i]);
                if (!keep)
                        unlink(path);
        }
        n_written = 0;
}

static void put_file(const char *name, const void *buf, size_t len)
{
        char path[400];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                abort();
        if (len && write(fd, buf, len) != (ssize_t)len)
                abort();
        close(fd);
}

static void put_index(const char *manifest_hex, size_t manifest_len)
{
        char idx[600];
        int n = snprintf(idx, sizeof(idx),
                         "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_MANIFEST "\","
                         "\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":"
                         "{\"org.opencontainers.image.ref.name\":\"f\"}}]}", manifest_hex, manifest_len);

        put_file("index.json", idx, (size_t)n);
}

/* A manifest of the valid config and the given layers. */
static char *make_manifest(char (*layer_hex)[65], const size_t *layer_len, size_t n)
{
        char cfg_hex[65];
        char *m, *next;

        put_blob(config, strlen(config), cfg_hex);
        m = td_asprintf("{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",\"config\":{\"mediaType\":\""
                        MT_CONFIG "\",\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[", cfg_hex,
                        strlen(config));
        for (size_t i = 0; i < n; i++) {
                next = td_asprintf("%s%s{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha256:%s\",\"size\":%zu}",
                                   m, i ? "," : "", layer_hex[i], layer_len[i]);
                free(m);
                m = next;
        }
        next = td_asprintf("%s]}", m);
        free(m);
        return next;
}

static void setup(void)
{
        const char *tmp = getenv("TMPDIR");
        char sub[300], layer_hex[1][65], *m, m_hex[65];
        size_t layer_len[1] = { sizeof(empty_layer) };

        snprintf(dir, sizeof(dir), "%s/fuzz-oci-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
                abort();
        snprintf(sub, sizeof(sub), "%s/blobs", dir);
        mkdir(sub, 0755);
        snprintf(sub, sizeof(sub), "%s/blobs/sha256", dir);
        mkdir(sub, 0755);
        put_file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
        /* the fixed blobs modes 0 and 1 may point at */
        put_blob(empty_layer, sizeof(empty_layer), layer_hex[0]);
        m = make_manifest(layer_hex, layer_len, 1);
        put_blob(m, strlen(m), m_hex);
        free(m);
        /* config, empty layer, manifest */
        for (size_t i = 0; i < 3; i++)
                memcpy(fixed[i], written[i], 65);
        n_written = 0;
}

static void cleanup(void)
{
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "fuzz-oci: could not remove '%s'\n", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct td_scan_opts opts = { 0 };
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        char spec[300], hex[65];

        td_log_set_sink(fuzz_quiet);
        if (!*dir) {
                setup();
                atexit(cleanup);
        }
        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0:
                put_file("index.json", data + 1, size - 1);
                break;
        case 1:
                put_blob(data + 1, size - 1, hex);
                put_index(hex, size - 1);
                break;
        default: {
                char layer_hex[MAX_LAYERS][65], *m;
                size_t layer_len[MAX_LAYERS], n = 0;
                const uint8_t *p = data + 1, *end = data + size;

                while (n < MAX_LAYERS) {
                        const uint8_t *s = memmem(p, (size_t)(end - p), SEP, strlen(SEP));

                        if (!s || n == MAX_LAYERS - 1)
                                s = end;
                        layer_len[n] = (size_t)(s - p);
                        put_blob(p, layer_len[n], layer_hex[n]);
                        n++;
                        if (s == end)
                                break;
                        p = s + strlen(SEP);
                }
                m = make_manifest(layer_hex, layer_len, n);
                put_blob(m, strlen(m), hex);
                put_index(hex, strlen(m));
                free(m);
                break;
        }
        }
        snprintf(spec, sizeof(spec), "%s:f", dir);
        if (td_source_open(spec, &opts, &src, &tree) == 0) {
                td_tree_walk(tree.root, fuzz_read_back, NULL);
                td_tree_done(&tree);
                td_source_free(src);
        }
        remove_written();
        return 0;
}
