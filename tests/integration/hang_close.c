/*
 * LD_PRELOAD shim for test_orphan: nng 1.5.2's nng_close can wait forever (nanomsg/nng#1543,
 * seen once in CI as two workers that outlived their supervisor). This makes it happen on
 * demand: once the process's parent is no longer the one it started under (its supervisor
 * died), nng_close never returns. Until then it is nng's own.
 */
#include <dlfcn.h>
#include <nng/nng.h>
#include <unistd.h>

static pid_t first_parent;

static void note_parent(void) __attribute__((constructor));
static void note_parent(void)
{
    first_parent = getppid();
}

int nng_close(nng_socket s)
{
    static int (*real)(nng_socket);
    if (getppid() != first_parent)
        for (;;)
            sleep(60);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "nng_close");
    return real(s);
}
