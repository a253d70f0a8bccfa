/* SPDX-License-Identifier: MIT */
/* Unit tests for core/cli.c: the overlay-derived seed shared by treedisk
 * --overlay and nbdkit treedisk overlay= (the same FILE must give the same
 * seed through both, across releases), and the options table the nbdkit
 * plugin maps its keys onto. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cli.h"
#include "td.h"

static char *dir;

static int setup(void **state)
{
        char tmpl[] = "/tmp/td-test-cli.XXXXXX";

        if (!mkdtemp(tmpl))
                return -1;
        dir = realpath(tmpl, NULL);
        return dir ? 0 : -1;
}

static int teardown(void **state)
{
        _cleanup_free_ char *p = td_asprintf("%s/exists", dir);

        unlink(p);
        rmdir(dir);
        free(dir);
        return 0;
}

static void test_abspath_missing_file(void **state)
{
        _cleanup_free_ char *p = td_asprintf("%s/./new.ovl", dir), *want = td_asprintf("%s/new.ovl", dir);
        _cleanup_free_ char *want_seed = td_asprintf("treedisk-overlay:%s/new.ovl", dir);
        _cleanup_free_ char *abs = NULL, *seed = NULL;

        /* FILE need not exist: its directory is resolved */
        assert_int_equal(td_cli_overlay_abspath(p, "overlay", &abs), 0);
        assert_string_equal(abs, want);
        seed = td_cli_overlay_seed(abs);
        assert_string_equal(seed, want_seed);
}

static void test_abspath_existing_and_relative(void **state)
{
        _cleanup_free_ char *want = td_asprintf("%s/exists", dir), *p = td_asprintf("%s//exists", dir);
        _cleanup_free_ char *want_rel = td_asprintf("%s/later.ovl", dir);
        _cleanup_free_ char *abs = NULL, *rel = NULL;
        char cwd[PATH_MAX];
        FILE *f;

        f = fopen(want, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(td_cli_overlay_abspath(p, "overlay", &abs), 0);
        assert_string_equal(abs, want);

        /* a bare name: from the working directory */
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(dir), 0);
        assert_int_equal(td_cli_overlay_abspath("later.ovl", "overlay", &rel), 0);
        assert_int_equal(chdir(cwd), 0);
        assert_string_equal(rel, want_rel);
}

static void test_abspath_no_directory(void **state)
{
        _cleanup_free_ char *p = td_asprintf("%s/no-such-dir/x.ovl", dir);
        char *abs = (char *)0x1;

        assert_int_equal(td_cli_overlay_abspath(p, "--overlay", &abs), -ENOENT);
        assert_ptr_equal(abs, (char *)0x1);     /* not written on failure */
}

/* The plugin's keys are the long options: names nbdkit accepts as keys
 * (a letter, then letters, digits, '-', '_', '.'), none of them its own. */
static void test_option_names_are_nbdkit_keys(void **state)
{
        size_t n = 0;

        for (const struct option *o = td_cli_image_options; o->name; o++, n++) {
                assert_true((o->name[0] >= 'a' && o->name[0] <= 'z'));
                for (const char *c = o->name; *c; c++)
                        assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-');
                assert_true(o->has_arg == no_argument || o->has_arg == required_argument);
                assert_string_not_equal(o->name, "source");
                assert_string_not_equal(o->name, "overlay");
                assert_string_not_equal(o->name, "overlay-memory");
        }
        assert_true(n >= 20);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_abspath_missing_file),
                cmocka_unit_test(test_abspath_existing_and_relative),
                cmocka_unit_test(test_abspath_no_directory),
                cmocka_unit_test(test_option_names_are_nbdkit_keys),
        };

        td_log_set_max_level(TD_LOG_ERR - 1);   /* the failure's line is expected */
        return cmocka_run_group_tests(tests, setup, teardown);
}
