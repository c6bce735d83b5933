#!/usr/bin/python3
"""scripts/testnet-netns refuses clearly when it cannot make network namespaces (SPEC §13),
and cleans up after itself:

 1. not root: `up` exits 1 with one line saying it needs root, and makes nothing;
 2. as root, with an `ip` whose third `ip netns add` fails (first on PATH): `up` exits 1
    naming the namespace and the error, and the two namespaces it had made are gone;
 3. `down` where nothing runs exits 0, twice."""
import re

from netns import *

SCRIPT = os.path.join(ROOT, "scripts", "testnet-netns")


def run(args, env=None, user=None):
    cmd = ([shutil.which("runuser"), "-u", user, "--"] if user else []) + [SCRIPT] + args
    return subprocess.run(cmd, env=dict(os.environ, AEQUA_BUILD=BUILD, **(env or {})),
                          capture_output=True, text=True, timeout=120)


d = tempdir("aequa-netns-refuse-")
try:
    # 1. not root
    r = run(["up", "2", "--dir", os.path.join(d, "t1")], user="nobody" if is_root() else None)
    check(r.returncode == 1 and "cannot create network namespaces: needs root" in r.stderr,
          "up as a user that is not root: exit %d, %r" % (r.returncode, r.stderr.strip()))
    check(not os.path.exists(os.path.join(d, "t1", "testnet.env")), "and made nothing")

    if not is_root():
        print("SKIP: the rest needs root")
        sys.exit(SKIP)

    # 2. `ip netns add` fails for the third namespace (the hub and node 0 exist by then)
    real_ip = shutil.which("ip")
    fake = os.path.join(d, "bin")
    os.makedirs(fake)
    with open(os.path.join(fake, "ip"), "w") as f:
        f.write('#!/bin/sh\n'
                'if [ "$1" = netns ] && [ "$2" = add ]; then\n'
                '  n=$(($(cat %s/count 2>/dev/null || echo 0) + 1)); echo $n > %s/count\n'
                '  if [ $n -ge 3 ]; then\n'
                '    echo "mount --make-shared /run/netns failed: Operation not permitted" >&2\n'
                '    exit 1\n'
                '  fi\n'
                'fi\n'
                'exec %s "$@"\n' % (d, d, real_ip))
    os.chmod(os.path.join(fake, "ip"), 0o755)
    t2 = os.path.join(d, "t2")
    r = run(["up", "2", "--dir", t2], env={"PATH": fake + ":" + os.environ["PATH"]})
    m = re.search(r"cannot create network namespace (aeq\d+)-n1: mount --make-shared "
                  r"/run/netns failed: Operation not permitted", r.stderr)
    check(r.returncode == 1 and m, "up when ip netns add fails: exit %d, %r" %
          (r.returncode, r.stderr.strip()))
    prefix = m.group(1)
    left = [ns for ns in netns_names() if ns.startswith(prefix + "-")]
    check(not left and not os.path.exists(os.path.join(t2, "testnet.env")),
          "up removed the namespaces it had made and its state (left: %s)" % left)

    # 3. down is idempotent
    for k in range(2):
        r = run(["down", "--dir", t2])
        check(r.returncode == 0 and "nothing to stop" in r.stdout,
              "down with nothing up, #%d: exit %d %r" % (k + 1, r.returncode, r.stdout.strip()))
finally:
    shutil.rmtree(d, ignore_errors=True)
