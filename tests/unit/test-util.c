/* SPDX-License-Identifier: MIT */
/* Unit tests for core/util.c: size parsing and formatting, seeded ids, td_grow. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "td.h"

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)

static void assert_size(const char *s, uint64_t want)
{
        uint64_t v = 0xa5a5a5a5a5a5a5a5ull;
        int r = td_parse_size(s, &v);

        if (r != 0)
                fail_msg("td_parse_size(\"%s\") = %d, want 0", s, r);
        if (v != want)
                fail_msg("td_parse_size(\"%s\") = %llu, want %llu", s, (unsigned long long)v,
                         (unsigned long long)want);
}

static void assert_size_err(const char *s, int err)
{
        uint64_t v = 0xa5a5a5a5a5a5a5a5ull;
        int r = td_parse_size(s, &v);

        if (r != err)
                fail_msg("td_parse_size(\"%s\") = %d, want %d", s, r, err);
        /* *ret is not written on failure */
        assert_int_equal(v, 0xa5a5a5a5a5a5a5a5ull);
}

static void parse_plain(void **state)
{
        assert_size("0", 0);
        assert_size("1", 1);
        assert_size("123", 123);
        assert_size("123B", 123);
        assert_size("0B", 0);
        assert_size("18446744073709551615", UINT64_MAX);
        assert_size("007", 7);
}

static void parse_units(void **state)
{
        assert_size("10K", 10 * KIB);
        assert_size("10k", 10 * KIB);
        assert_size("4M", 4 * MIB);
        assert_size("4m", 4 * MIB);
        assert_size("2G", 2 * GIB);
        assert_size("2g", 2 * GIB);
        assert_size("1T", TIB);
        assert_size("1t", TIB);
        assert_size("0M", 0);
        /* binary units whatever the suffix */
        assert_size("10KiB", 10 * KIB);
        assert_size("10KB", 10 * KIB);
        assert_size("4MiB", 4 * MIB);
        assert_size("4MB", 4 * MIB);
        assert_size("2GiB", 2 * GIB);
        assert_size("2GB", 2 * GIB);
        assert_size("3TiB", 3 * TIB);
        assert_size("3TB", 3 * TIB);
        assert_size("512M", 512 * MIB);
}

static void parse_overflow(void **state)
{
        /* 2^64 and beyond */
        assert_size_err("18446744073709551616", -ERANGE);
        assert_size_err("99999999999999999999999", -ERANGE);
        /* the largest values that fit, and one more */
        assert_size("16777215T", UINT64_C(16777215) << 40);
        assert_size_err("16777216T", -ERANGE);
        assert_size("17179869183G", UINT64_C(17179869183) << 30);
        assert_size_err("17179869184G", -ERANGE);
        assert_size("17592186044415M", UINT64_C(17592186044415) << 20);
        assert_size_err("17592186044416M", -ERANGE);
        assert_size("18014398509481983K", UINT64_C(18014398509481983) << 10);
        assert_size_err("18014398509481984K", -ERANGE);
        assert_size_err("18446744073709551615K", -ERANGE);
}

static void parse_garbage(void **state)
{
        static const char *const bad[] = {
                "", " 1", "1 ", "-1", "+1", "K", "M", "1.5G", "1X", "1KK", "1Ki", "1KiBB",
                "1iB", "1 K", "0x10", "1e3", "10bytes", "1Gi", "G1", "abc", "1b", "1KIB",
                "1Kb", "4\n",
        };

        for (size_t i = 0; i < TD_ARRAY_SIZE(bad); i++)
                assert_size_err(bad[i], -EINVAL);
        {
                uint64_t v = 1;

                assert_int_equal(td_parse_size(NULL, &v), -EINVAL);
                assert_int_equal(v, 1);
        }
}

static void format_size(void **state)
{
        static const struct {
                uint64_t v;
                const char *want;
        } cases[] = {
                { 0, "0 B" },
                { 1, "1 B" },
                { 1023, "1023 B" },
                { 1024, "1.0 KiB" },
                { 1536, "1.5 KiB" },
                { MIB, "1.0 MiB" },
                { 3 * GIB / 2, "1.5 GiB" },
                { 256 * MIB, "256.0 MiB" },
                { 2 * TIB, "2.0 TiB" },
                { 1024 * TIB, "1.0 PiB" },
                { UINT64_MAX, "16384.0 PiB" }, /* PiB is the largest unit */
        };
        char buf[32];

        for (size_t i = 0; i < TD_ARRAY_SIZE(cases); i++) {
                memset(buf, 'x', sizeof(buf));
                assert_ptr_equal(td_format_size(cases[i].v, buf, sizeof(buf)), buf);
                assert_string_equal(buf, cases[i].want);
        }
        /* truncates within len, always terminated */
        memset(buf, 'x', sizeof(buf));
        td_format_size(3 * GIB / 2, buf, 4);
        assert_string_equal(buf, "1.5");
        assert_int_equal(buf[4], 'x');
}

static void format_parse_roundtrip(void **state)
{
        /* whole numbers of a unit format as "<n>.0 <unit>" and parse back */
        static const uint64_t v[] = { KIB, 7 * KIB, 5 * MIB, 100 * GIB, 3 * TIB };
        char buf[32], num[32];

        for (size_t i = 0; i < TD_ARRAY_SIZE(v); i++) {
                uint64_t back;
                char *sp;

                td_format_size(v[i], buf, sizeof(buf));
                sp = strstr(buf, ".0 ");
                assert_non_null(sp);
                memcpy(num, buf, (size_t)(sp - buf));
                strcpy(num + (sp - buf), sp + 3); /* "7.0 KiB" -> "7KiB" */
                assert_int_equal(td_parse_size(num, &back), 0);
                assert_int_equal(back, v[i]);
        }
}

static void seed_deterministic(void **state)
{
        uint8_t a[16], b[16], zero[16] = { 0 };

        memset(a, 0x11, sizeof(a));
        memset(b, 0x22, sizeof(b));
        td_seed_bytes("hello", "filesystem-uuid", a);
        td_seed_bytes("hello", "filesystem-uuid", b);
        assert_memory_equal(a, b, 16);
        assert_memory_not_equal(a, zero, 16);
        /* both halves vary */
        assert_memory_not_equal(a, a + 8, 8);

        td_seed_bytes("", "", a);
        td_seed_bytes("", "", b);
        assert_memory_equal(a, b, 16);
}

static void seed_differs(void **state)
{
        static const char *const seeds[] = { "", "a", "b", "ab", "ba", "hello", "hello ", "Hello" };
        static const char *const purposes[] = { "", "filesystem-uuid", "hash-seed", "disk-id",
                                                "disk-guid", "root-partition-guid" };
        uint8_t out[TD_ARRAY_SIZE(seeds) * TD_ARRAY_SIZE(purposes)][16];
        size_t n = 0;

        for (size_t s = 0; s < TD_ARRAY_SIZE(seeds); s++)
                for (size_t p = 0; p < TD_ARRAY_SIZE(purposes); p++)
                        td_seed_bytes(seeds[s], purposes[p], out[n++]);
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (memcmp(out[i], out[j], 16) == 0)
                                fail_msg("td_seed_bytes collides: pair %zu and %zu", i, j);

        /* the separator keeps (seed, purpose) apart from concatenations */
        {
                uint8_t x[16], y[16];

                td_seed_bytes("ab", "c", x);
                td_seed_bytes("a", "bc", y);
                assert_memory_not_equal(x, y, 16);
        }
}

static void seed_stable(void **state)
{
        /* The image's bytes depend on these: they must never change between
         * releases.  HMAC-SHA256(key "treedisk", message "disk-id"), first
         * 16 bytes, from Python's hmac module. */
        static const uint8_t want[16] = { 0xc7, 0x6c, 0x41, 0xf9, 0xf4, 0xee, 0x17, 0x65,
                                          0x2c, 0x13, 0xb6, 0x51, 0x13, 0xcf, 0xf5, 0xf9 };
        uint8_t got[16];

        td_seed_bytes("treedisk", "disk-id", got);
        assert_memory_equal(got, want, 16);
}

static void grow(void **state)
{
        uint32_t *a = NULL;
        size_t cap = 0;

        td_grow(&a, &cap, 1, sizeof(*a));
        assert_non_null(a);
        assert_true(cap >= 1);
        a[0] = 42;

        /* need <= cap: nothing moves */
        {
                uint32_t *before = a;
                size_t c = cap;

                td_grow(&a, &cap, cap, sizeof(*a));
                assert_ptr_equal(a, before);
                assert_int_equal(cap, c);
                td_grow(&a, &cap, 0, sizeof(*a));
                assert_ptr_equal(a, before);
                assert_int_equal(cap, c);
        }

        /* grows one at a time, keeps contents, capacity at least doubles */
        for (size_t n = 1; n < 100000; n++) {
                size_t old = cap;

                td_grow(&a, &cap, n + 1, sizeof(*a));
                assert_true(cap >= n + 1);
                if (cap != old)
                        assert_true(cap >= 2 * old);
                a[n] = (uint32_t)(n * 2654435761u);
        }
        assert_int_equal(a[0], 42);
        for (size_t n = 1; n < 100000; n++)
                assert_int_equal(a[n], (uint32_t)(n * 2654435761u));

        /* a big jump at once */
        td_grow(&a, &cap, 1000000, sizeof(*a));
        assert_true(cap >= 1000000);
        a[999999] = 7;
        assert_int_equal(a[99999], (uint32_t)(99999 * 2654435761u));
        free(a);

        /* large elements */
        {
                struct big {
                        char b[1000];
                } *bg = NULL;
                size_t bc = 0;

                td_grow(&bg, &bc, 3, sizeof(*bg));
                assert_true(bc >= 3);
                memset(bg, 1, 3 * sizeof(*bg));
                td_grow(&bg, &bc, 50, sizeof(*bg));
                assert_true(bc >= 50);
                assert_int_equal(bg[2].b[999], 1);
                free(bg);
        }
}

static void alloc_helpers(void **state)
{
        _cleanup_free_ char *s = td_asprintf("%s-%d", "x", 42);
        _cleanup_free_ char *d = td_strdup("abc");
        _cleanup_free_ uint8_t *m = td_memdup("\1\2\3", 3);
        _cleanup_free_ uint8_t *z = td_calloc(100, 7);

        assert_string_equal(s, "x-42");
        assert_string_equal(d, "abc");
        assert_memory_equal(m, "\1\2\3", 3);
        for (size_t i = 0; i < 700; i++)
                assert_int_equal(z[i], 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parse_plain),
                cmocka_unit_test(parse_units),
                cmocka_unit_test(parse_overflow),
                cmocka_unit_test(parse_garbage),
                cmocka_unit_test(format_size),
                cmocka_unit_test(format_parse_roundtrip),
                cmocka_unit_test(seed_deterministic),
                cmocka_unit_test(seed_differs),
                cmocka_unit_test(seed_stable),
                cmocka_unit_test(grow),
                cmocka_unit_test(alloc_helpers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
