/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "td.h"

static void oom(void)
{
        fputs(TD_PROG ": out of memory\n", stderr);
        abort();
}

void *td_malloc(size_t n)
{
        void *p = malloc(n ? n : 1);

        if (!p)
                oom();
        return p;
}

void *td_calloc(size_t n, size_t m)
{
        void *p = calloc(n ? n : 1, m ? m : 1);

        if (!p)
                oom();
        return p;
}

void *td_realloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

char *td_strdup(const char *s)
{
        char *p = strdup(s);

        if (!p)
                oom();
        return p;
}

void *td_memdup(const void *p, size_t n)
{
        void *q = td_malloc(n);

        memcpy(q, p, n);
        return q;
}

char *td_asprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return s;
}

void td_grow(void *array, size_t *cap, size_t need, size_t elem)
{
        void **a = array;
        size_t n = *cap;

        if (need <= n)
                return;
        n = n ? n : 8;
        while (n < need) {
                if (n > SIZE_MAX / 2 / elem)
                        oom();
                n *= 2;
        }
        *a = td_realloc(*a, n * elem);
        *cap = n;
}

int td_parse_size(const char *s, uint64_t *ret)
{
        unsigned shift = 0;
        uint64_t v;
        char *end;

        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -ERANGE;
        switch (*end) {
        case '\0': break;
        case 'k': case 'K': shift = 10; end++; break;
        case 'm': case 'M': shift = 20; end++; break;
        case 'g': case 'G': shift = 30; end++; break;
        case 't': case 'T': shift = 40; end++; break;
        case 'b': case 'B': break;
        default: return -EINVAL;
        }
        if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
                end += strlen(end);
        else if (!shift && strcmp(end, "B") == 0)
                end++;
        if (*end)
                return -EINVAL;
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

const char *td_format_size(uint64_t bytes, char *buf, size_t len)
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double)bytes;
        unsigned u = 0;

        while (v >= 1024 && u + 1 < TD_ARRAY_SIZE(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, len, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, len, "%.1f %s", v, units[u]);
        return buf;
}

/* FNV-1a over the input, then splitmix64 to spread it into 128 bits. */
static uint64_t splitmix64(uint64_t *x)
{
        uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

void td_seed_bytes(const char *seed, const char *purpose, uint8_t out[16])
{
        uint64_t h = 0xcbf29ce484222325ull, a, b;
        const unsigned char *p;

        for (p = (const unsigned char *)seed; *p; p++)
                h = (h ^ *p) * 0x100000001b3ull;
        h = (h ^ 0xff) * 0x100000001b3ull; /* separator */
        for (p = (const unsigned char *)purpose; *p; p++)
                h = (h ^ *p) * 0x100000001b3ull;
        a = splitmix64(&h);
        b = splitmix64(&h);
        for (int i = 0; i < 8; i++) {
                out[i] = (uint8_t)(a >> (8 * i));
                out[8 + i] = (uint8_t)(b >> (8 * i));
        }
}
