/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

char *td_strndup(const char *s, size_t n)
{
        char *p = strndup(s, n);

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

void td_seed_bytes(const char *seed, const char *purpose, uint8_t out[16])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        if (!HMAC(EVP_sha256(), seed, (int)strlen(seed), (const unsigned char *)purpose, strlen(purpose),
                  md, &len) || len < 16)
                abort(); /* a libcrypto without HMAC-SHA256 */
        memcpy(out, md, 16);
}

extern char **environ;

/* environ + add, as a new NULL-terminated array (the strings are shared);
 * a name in add replaces the same name in environ. */
static char **env_merge(char *const add[])
{
        size_t n = 0, m = 0, k = 0;
        char **env;

        while (environ[n])
                n++;
        while (add && add[m])
                m++;
        env = td_calloc(n + m + 1, sizeof(*env));
        for (size_t i = 0; i < n; i++) {
                bool replaced = false;

                for (size_t j = 0; j < m && !replaced; j++) {
                        size_t len = strcspn(add[j], "=");

                        replaced = strncmp(environ[i], add[j], len + 1) == 0;
                }
                if (!replaced)
                        env[k++] = environ[i];
        }
        for (size_t j = 0; j < m; j++)
                env[k++] = add[j];
        return env;
}

int td_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
        uint8_t *p = buf;

        while (len) {
                ssize_t n = pread(fd, p, len, (off_t)off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                off += (uint64_t)n;
                len -= (size_t)n;
        }
        return 0;
}

int td_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
        const uint8_t *p = buf;

        while (len) {
                ssize_t n = pwrite(fd, p, len, (off_t)off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                off += (uint64_t)n;
                len -= (size_t)n;
        }
        return 0;
}

const char *td_tmpdir(void)
{
        const char *d = getenv("TMPDIR");

        return d && *d ? d : "/var/tmp";
}

int td_tmpfile(const char *what)
{
        const char *dir = td_tmpdir();
        int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);

        if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
                _cleanup_free_ char *t = td_asprintf("%s/treedisk-XXXXXX", dir);

                fd = mkostemp(t, O_CLOEXEC);
                if (fd >= 0)
                        unlink(t);
        }
        if (fd < 0)
                return td_log_errno(-errno, "cannot create %s in '%s' (set TMPDIR to a writable "
                                    "directory with room)", what, dir);
        return fd;
}

int td_run(char *const argv[], char *const env_add[], const char *package)
{
        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *errpath = NULL;
        _cleanup_free_ char **env = NULL;
        _cleanup_close_ int err_fd = -1;
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r, status;

        if (!tmpdir || !*tmpdir)
                tmpdir = "/tmp";
        errpath = td_asprintf("%s/treedisk-run-XXXXXX", tmpdir);
        err_fd = mkostemp(errpath, O_CLOEXEC);
        if (err_fd < 0)
                return td_log_errno(-errno, "cannot create a temporary file in '%s' (set TMPDIR to a writable directory)", tmpdir);
        unlink(errpath);

        env = env_merge(env_add);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        if (r == ENOENT)
                return td_log_error(-ENOENT, "'%s' not found: install the Debian package %s",
                                    argv[0], package);
        if (r != 0)
                return td_log_errno(-r, "run '%s'", argv[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return td_log_errno(-errno, "wait for '%s'", argv[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char msg[512] = "";
                ssize_t n = pread(err_fd, msg, sizeof(msg) - 1, 0);
                char *line = msg;

                if (n > 0) {
                        msg[n] = '\0';
                        /* the first line that says something */
                        line += strspn(line, " \n");
                        line[strcspn(line, "\n")] = '\0';
                }
                if (WIFEXITED(status))
                        return td_log_error(-EIO, "'%s' failed (exit status %d): %s", argv[0],
                                            WEXITSTATUS(status), *line ? line : "it printed nothing");
                return td_log_error(-EIO, "'%s' was killed by signal %d", argv[0],
                                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        return 0;
}
