/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the image options' parsers (core/cli.c, owner.c,
 * util.c): --size, --esp-size, --owner, --uid-map/--gid-map, --uuid,
 * --label, --firmware, ... and the checks of how they go together.  The
 * input is up to 8 options: each a byte that picks one of
 * td_cli_image_options, then its argument up to a NUL.  Seeds:
 * tests/fuzz/corpus/options. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "image.h"
#include "owner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Arguments the options keep pointers to (as to argv's strings), freed
 * after the input. */
static char *kept[8];
static size_t n_kept;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct td_image_opts opts;
        size_t n_opts = 0, i = 0;
        uint64_t v;
        uint32_t uid, gid;

        td_log_set_sink(fuzz_quiet);
        while (td_cli_image_options[n_opts].name)
                n_opts++;
        td_image_opts_init(&opts);
        for (int k = 0; k < 8 && i < size; k++) {
                const struct option *o = &td_cli_image_options[data[i++] % n_opts];
                const uint8_t *end = memchr(data + i, '\0', size - i);
                size_t len = end ? (size_t)(end - (data + i)) : size - i;
                char *arg = td_strndup((const char *)data + i, len);

                i += len + (end ? 1 : 0);
                td_parse_size(arg, &v);
                td_owner_parse(arg, &uid, &gid);
                td_cli_parse_image_option(o->val, o->has_arg ? arg : NULL, &opts);
                /* the strings are kept by reference, as getopt's would be */
                kept[n_kept++] = arg;
        }
        td_image_opts_check(&opts);
        free(opts.uid_map);
        free(opts.gid_map);
        free(opts.extra_trees);
        while (n_kept)
                free(kept[--n_kept]);
        return 0;
}
