/*
 * LD_PRELOAD shim: nng 1.5.2's nng_close can wait forever (nanomsg/nng#1543, seen in CI as two
 * workers that outlived their supervisor, and in a chaos drill as two supervisors blocked
 * closing the socket of a worker that had died). This makes it happen on demand:
 *   - once the process's parent is no longer the one it started under (its supervisor died),
 *     nng_close never returns (test_orphan);
 *   - in the program named by $HANG_CLOSE_PROGRAM (e.g. aequa-supervisor), it never returns at
 *     all (test_close_hang).
 * Otherwise it is nng's own.
 */
#include <dlfcn.h>
#include <errno.h>
#include <nng/nng.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t first_parent;
static bool always;

static void note_start(void) __attribute__((constructor));
static void note_start(void)
{
    const char *name = getenv("HANG_CLOSE_PROGRAM");
    first_parent = getppid();
    always = name && strcmp(name, program_invocation_short_name) == 0;
}

int nng_close(nng_socket s)
{
    static int (*real)(nng_socket);
    if (always || getppid() != first_parent)
        for (;;)
            sleep(60);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "nng_close");
    return real(s);
}
