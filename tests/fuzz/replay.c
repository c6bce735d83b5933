/*
 * Corpus replay for the fuzz targets: runs LLVMFuzzerTestOneInput over every file of the given
 * directories, so the normal test suite exercises each decoder with its seeds (and any crash
 * reproducer saved there) without libFuzzer. The real fuzzing runs with scripts/fuzz.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    size_t files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            char *data;
            size_t len;
            if (read_file(path, 16u << 20, &data, &len) < 0) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                return 1;
            }
            LLVMFuzzerTestOneInput((const uint8_t *)data, len);
            free(data);
            files++;
        }
        closedir(d);
    }
    printf("replayed %zu inputs\n", files);
    return files ? 0 : 1;
}
