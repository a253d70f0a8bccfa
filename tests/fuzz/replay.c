/* SPDX-License-Identifier: MIT */
/* Runs a fuzz target's LLVMFuzzerTestOneInput once on each file named (or
 * each file of each directory named), without libFuzzer: the corpus as a
 * regression test, under whatever sanitizers the build has. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf;
        long len;

        if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
                fprintf(stderr, "fuzz-replay: cannot read '%s'\n", path);
                if (f)
                        fclose(f);
                return 1;
        }
        buf = malloc(len ? (size_t)len : 1);
        if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
                fprintf(stderr, "fuzz-replay: cannot read '%s'\n", path);
                free(buf);
                fclose(f);
                return 1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)len);
        free(buf);
        return 0;
}

int main(int argc, char **argv)
{
        int n = 0, bad = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                DIR *d;
                struct dirent *de;

                if (stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
                        bad |= run_file(argv[i]);
                        n++;
                        continue;
                }
                d = opendir(argv[i]);
                if (!d) {
                        fprintf(stderr, "fuzz-replay: cannot open '%s'\n", argv[i]);
                        return 1;
                }
                while ((de = readdir(d))) {
                        char p[4096];

                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
                        bad |= run_file(p);
                        n++;
                }
                closedir(d);
        }
        printf("fuzz-replay: %d inputs\n", n);
        return bad || n == 0;
}
