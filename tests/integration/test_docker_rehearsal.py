#!/usr/bin/python3
"""The Docker testnet (deploy/testnet/docker-compose.yml) rehearsed without a Docker engine, which
the CI machines do not run: the four node directories that deploy/testnet/gen makes run with what
each container would see, and form a cluster.

Each node gets a mount namespace laid out as its container: its node<i>/ directory read-only at
/etc/aequa (owned by another user than root, as when an operator ran gen), an empty directory as
the data volume at /var/lib/aequa, tmpfs at /run/aequa and /tmp, an /etc/hosts that resolves the
service names, the rest read-only (but the build tree); it runs the image's ENTRYPOINT (the build's supervisor in place of
/usr/bin/aequa-supervisor) as root with only the compose file's capabilities and NoNewPrivs. The
four share one network namespace of their own (loopback; distinct ports per node, as in the
containers), so nothing here touches the host's ports. Checked:
 - every node becomes ready (every worker READY, P2P links to its peers by service name);
 - the Dockerfile's HEALTHCHECK command, with the compose file's AEQUA_API_PORT, passes for each
   node, and fails on a port where no node listens;
 - every worker runs as user 'aequa' with no capabilities, the database is in the data volume
   and belongs to 'aequa';
 - a duty posted to the four nodes is decided on all four;
 - SIGTERM stops each node with exit 0 (docker stop).
Not rehearsed: the image's Debian packages (tests/check_docker.py
checks those), Docker's networking and published ports.

Needs root and unshare(1); skipped (77) when namespaces cannot be made."""
import pwd
import re
import shlex

from harness import *

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSIDE = "AEQUA_REHEARSAL_INSIDE"

if os.environ.get(INSIDE) != "1":
    # Outside: enter a network namespace of our own (and a mount namespace, so that the nodes'
    # mounts never reach the host's), or say why not.
    if not is_root():
        print("SKIP: needs root (mount and network namespaces)")
        sys.exit(SKIP)
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("SKIP: cannot create namespaces: %s" % probe.stderr.strip())
        sys.exit(SKIP)
    env = dict(os.environ, **{INSIDE: "1"})
    sys.exit(subprocess.run(["unshare", "--net", "--mount", sys.executable, __file__],
                            env=env).returncode)

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

# What the image and the compose file say.
dockerfile = open(os.path.join(ROOT, "deploy", "docker", "Dockerfile")).read()
dockerfile = dockerfile.replace("\\\n", " ")
entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.M).group(1))
check(entrypoint[0] == "/usr/bin/aequa-supervisor", "ENTRYPOINT runs the supervisor %s" % entrypoint)
health_cmd = re.search(r"^HEALTHCHECK .*? CMD (.*)$", dockerfile, re.M).group(1)
compose = yaml.safe_load(open(os.path.join(ROOT, "deploy", "testnet", "docker-compose.yml")))
services = compose["services"]
names = sorted(s for s in services if s.startswith("node"))
caps = services[names[0]]["cap_add"]
bounding = "-all," + ",".join("+" + c.lower() for c in caps)

work = tempdir("aequa-rehearsal-")
procs = []
try:
    gen = subprocess.run([os.path.join(ROOT, "deploy", "testnet", "gen"), "--aequactl", AEQUACTL,
                          "--out", os.path.join(work, "cluster")], capture_output=True, text=True)
    check(gen.returncode == 0, "deploy/testnet/gen made the cluster" +
          ("" if gen.returncode == 0 else ": " + gen.stderr))
    operator = 1000  # the host user who ran gen: not root, not 'aequa'
    try:
        aequa = pwd.getpwnam("aequa")
    except KeyError:
        fail("no user 'aequa', which the workers drop to (scripts/setup creates it)")
    hosts = "127.0.0.1 " + " ".join(names)
    # The compose file's tmpfs on /tmp, unless the build tree is there.
    tmp_tmpfs = "true" if BUILD.startswith("/tmp/") else "mount -t tmpfs -o nosuid,nodev tmpfs /tmp"
    for i, name in enumerate(names):
        node_dir = os.path.join(work, "cluster", "node%d" % i)
        for f in [node_dir] + [os.path.join(node_dir, x) for x in os.listdir(node_dir)]:
            os.chown(f, operator, operator)
        data = os.path.join(work, name + "-data")  # the named volume: empty, root's, 0755
        ovl = os.path.join(work, name + "-etc")
        os.mkdir(data, 0o755)
        os.mkdir(ovl)
        # The container's filesystem, in the node's own mount namespace.
        script = "\n".join([
            "set -e",
            "mount -t tmpfs tmpfs %s" % ovl,
            "mkdir %s/upper %s/work" % (ovl, ovl),
            "mount -t overlay overlay -o lowerdir=/etc,upperdir=%s/upper,workdir=%s/work /etc"
            % (ovl, ovl),
            "echo %s >> /etc/hosts" % shlex.quote(hosts),
            "mkdir /etc/aequa",
            "mount --bind %s /etc/aequa" % node_dir,
            "mount -o remount,bind,ro /etc/aequa",
            "mount -t tmpfs -o mode=0755 tmpfs /var/lib",
            "mkdir /var/lib/aequa",
            "mount --bind %s /var/lib/aequa" % data,
            "mount -t tmpfs -o mode=0755 tmpfs /run",
            "mkdir /run/aequa",
            "mount -t tmpfs -o nosuid,nodev,noexec tmpfs /run/aequa",
            # read_only: true. The build tree stays writable (coverage data of a test build).
            "mount --bind %s %s" % (BUILD, BUILD),
            "mount -o remount,bind,ro /",
            tmp_tmpfs,
            "cd /var/lib/aequa",  # WORKDIR
            "exec setpriv --bounding-set %s --no-new-privs %s" % (bounding, " ".join(
                shlex.quote(a) for a in [SUPERVISOR] + entrypoint[1:])),
        ])
        log = open(os.path.join(work, name + ".log"), "wb")
        procs.append(subprocess.Popen(["unshare", "--mount", "sh", "-c", script], cwd="/",
                                      stdout=log, stderr=subprocess.STDOUT))

    def port(i, section):
        with open(os.path.join(work, "cluster", "node%d" % i, "aequa.conf")) as f:
            text = f.read()
        return int(re.search(r"^\[%s\]\nlisten = 0\.0\.0\.0:(\d+)$" % section, text, re.M).group(1))

    api = ["127.0.0.1:%d" % port(i, "api") for i in range(len(names))]
    mon = ["127.0.0.1:%d" % port(i, "monitoring") for i in range(len(names))]

    def ready(i):
        if procs[i].poll() is not None:
            fail("%s exited %d:\n%s" % (names[i], procs[i].returncode,
                                        open(os.path.join(work, names[i] + ".log")).read()))
        return request(api[i], "GET", "/ready")[0] == 200

    for i, name in enumerate(names):
        wait_for(lambda: ready(i), "%s ready (every worker READY, P2P quorum)" % name, timeout=90,
                 interval=0.2)
    for i, name in enumerate(names):
        wait_for(lambda: metric(parse_metrics(request(mon[i], "GET", "/metrics")[1].decode()),
                                "p2p_conns_open") == 3,
                 "%s: links to its 3 peers, dialled by service name" % name, timeout=60)
    check(True, "all four nodes ready with links to their 3 peers, dialled by service name")

    def healthcheck(api_port):
        env = dict(os.environ, AEQUA_API_PORT=str(api_port))
        return subprocess.run(["sh", "-c", health_cmd], env=env, capture_output=True).returncode

    for i, name in enumerate(names):
        api_port = services[name]["environment"]["AEQUA_API_PORT"]
        check(healthcheck(api_port) == 0, "%s: HEALTHCHECK passes on AEQUA_API_PORT=%s"
              % (name, api_port))
    check(healthcheck(free_port()) != 0, "HEALTHCHECK fails where no node listens")

    def mount_options(pid, target):
        """The per-mount options of target as process pid sees it (the last mount there)."""
        opts = None
        with open("/proc/%d/mountinfo" % pid) as f:
            for line in f:
                fields = line.split()
                if fields[4] == target:
                    opts = fields[5].split(",")
        return opts

    for i, name in enumerate(names):
        check("ro" in mount_options(procs[i].pid, "/") and "ro" in mount_options(
            procs[i].pid, "/etc/aequa"), "%s: / and /etc/aequa are read-only for it" % name)
        code, body, _ = request(mon[i], "GET", "/status")
        workers = json.loads(body)["workers"]
        check(len(workers) == 5 and all(w["state"] == "ready" for w in workers),
              "%s: five workers ready" % name)
        for w in workers:
            st = proc_status(w["pid"])
            check(st["Uid"].split()[0] == str(aequa.pw_uid) and int(st["CapEff"], 16) == 0,
                  "%s: worker %s runs as 'aequa' with no capabilities" % (name, w["name"]))
        db = os.path.join(work, name + "-data", "db")
        check(os.path.isdir(db) and os.stat(db).st_uid == aequa.pw_uid,
              "%s: the database is in the data volume and belongs to 'aequa'" % name)

    # Every operator's validator client asks its own node for the duty.
    duty = json.dumps({"type": "attester", "height": 1, "payload": {"slot": 1}})
    for i, name in enumerate(names):
        check(request(api[i], "POST", "/v1/duty", duty)[0] == 202, "%s accepts attester/1" % name)

    def decided(i):
        code, body, _ = request(api[i], "GET", "/v1/duty/attester/1")
        return code == 200 and json.loads(body)["status"] == "decided"

    for i, name in enumerate(names):
        wait_for(lambda: decided(i), "attester/1 decided on %s" % name, timeout=60, interval=0.2)
    check(True, "attester/1 decided on all four nodes")

    for p in procs:
        p.send_signal(signal.SIGTERM)
    for i, p in enumerate(procs):
        try:
            rc = p.wait(60)  # stop_grace_period
        except subprocess.TimeoutExpired:
            fail("%s did not stop within 60 s of SIGTERM" % names[i])
        check(rc == 0, "%s stopped cleanly on SIGTERM (exit %d)" % (names[i], rc))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)
print("docker rehearsal passed")
