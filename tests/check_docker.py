#!/usr/bin/python3
"""deploy/docker/Dockerfile and deploy/testnet/docker-compose.yml, checked without a Docker engine
(none runs on the CI machines, and Debian 12 has no hadolint):

 - the Dockerfile: Debian 12 stages; the build stage installs the build dependencies of
   scripts/setup's list, configures meson with buildtype release and compiles and installs
   exactly the executables the meson files install; the runtime stage installs one package per
   shared library that those binaries link (readelf NEEDED -> the library's file -> dpkg -S), no
   package that none needs but curl (the health check), creates the workers' user of
   [supervisor] user, takes the binaries from the build stage, keeps a volume for data_dir,
   exposes node 0's ports, checks /health with curl on $AEQUA_API_PORT, and starts the
   supervisor on /etc/aequa/aequa.conf; the build context leaves keys and build trees out;
 - the compose file against real 'aequactl cluster create' output, made by deploy/testnet/gen:
   node i mounts its own node<i>/ (and no other) read-only at /etc/aequa, where its aequa.conf
   names its lock and keys; data_dir is its own volume and runtime_dir a tmpfs; its API and
   monitoring ports (4600+i, 4620+i) are published on the same host ports and its health check
   port is its API port; every listener is on 0.0.0.0; the lock names node i as service nodei
   on its P2P port; the Prometheus service mounts deploy/prometheus/ and deploy/testnet/
   prometheus.yml side by side, loads every rule file, and scrapes the four monitoring ports by
   service name (promtool checks that config).

Usage: check_docker.py SOURCE_ROOT BINARY... (the installed binaries of a build, aequactl among
them). Needs python3-yaml and dpkg; promtool's check is skipped (said so) without it.
"""
import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("FAIL: python3-yaml is missing (scripts/setup installs it)")
    sys.exit(1)

root = os.path.abspath(sys.argv[1])
binaries = [os.path.abspath(b) for b in sys.argv[2:]]
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


def rel(*parts):
    return os.path.join(root, *parts)


# ---------------------------------------------------------------- the Dockerfile
def dockerfile_stages(text):
    """[(from_line, [(INSTRUCTION, arguments)])] with continuation lines joined."""
    stages, logical, cur = [], [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        logical.append(cur + line)
        cur = ""
    for line in logical:
        instr, _, args = line.strip().partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            stages.append((args.strip(), []))
        else:
            stages[-1][1].append((instr, args.strip()))
    return stages


def apt_installed(instructions):
    """Packages named by 'apt-get install' in the RUN instructions."""
    pkgs = []
    for instr, args in instructions:
        if instr != "RUN":
            continue
        for cmd in re.split(r"&&|;|\|\|", args):
            words = shlex.split(cmd)
            if "apt-get" in words and "install" in words:
                rest = words[words.index("install") + 1:]
                pkgs += [w for w in rest if not w.startswith("-")]
    return pkgs


def args_of(instructions, name):
    return [a for i, a in instructions if i == name]


def exec_form(args):
    return json.loads(args) if args.startswith("[") else shlex.split(args)


dockerfile = open(rel("deploy", "docker", "Dockerfile")).read()
stages = dockerfile_stages(dockerfile)
check(len(stages) >= 2, "Dockerfile: %d stages (multi-stage)" % len(stages))
for base, _ in stages:
    image = base.split()[0]
    check(re.fullmatch(r"debian:(12|bookworm)(-slim)?", image) is not None,
          "Dockerfile: stage FROM %s is Debian 12" % base)
build_from, build = stages[0]
run_from, runtime = stages[-1]
build_name = build_from.split()[-1] if " AS " in build_from.upper() else None
check(build_name is not None, "Dockerfile: the build stage is named (%s)" % build_name)

# Build stage: scripts/setup's build dependencies.
setup = open(rel("scripts", "setup")).read()
setup_pkgs = set(re.search(r'PACKAGES="([^"]*)"', setup).group(1).split())
# What meson needs from scripts/setup's list: the tools, the C compiler, every library's -dev
# package and Check; clang and its sanitizer runtime are for the tests only.
NOT_FOR_THE_IMAGE = {"libclang-rt-14-dev"}
needed_build = {"meson", "ninja-build", "pkg-config", "gcc", "check"} | {
    p for p in setup_pkgs if p.endswith("-dev") and p not in NOT_FOR_THE_IMAGE}
build_pkgs = set(apt_installed(build))
check(needed_build <= build_pkgs, "Dockerfile build stage installs the build dependencies of "
      "scripts/setup %s" % sorted(needed_build - build_pkgs))
# libc6-dev: gcc only recommends it (the image installs without recommends); python3 runs meson.
extra = build_pkgs - setup_pkgs - {"libc6-dev", "python3"}
check(not extra, "Dockerfile build stage installs nothing outside scripts/setup's list %s"
      % sorted(extra))
build_runs = " ".join(args_of(build, "RUN"))
check(re.search(r"meson setup \S+.*(--buildtype[= ]release|-Dbuildtype=release)", build_runs)
      is not None, "Dockerfile build stage: meson setup with buildtype release")
check("-Dtest_tools=true" not in build_runs, "Dockerfile build stage: a product build (no test_tools)")

# The executables the meson files install, and the targets the Dockerfile compiles.
installed = set()
for dirpath, dirs, files in os.walk(root):
    if dirpath == root:  # not the build trees, nor .git
        dirs[:] = [d for d in dirs if not d.startswith("build") and not d.startswith(".")]
    if "meson.build" in files:
        text = open(os.path.join(dirpath, "meson.build")).read()
        for m in re.finditer(r"executable\('([^']+)'(.*?)\)\n", text, re.S):
            if re.search(r"install:\s*true", m.group(2)):
                installed.add(m.group(1))
check(len(installed) >= 7, "meson files install %s" % sorted(installed))
compiled = re.search(r"meson compile -C \S+ ([^&]*)", build_runs)
compiled = set(compiled.group(1).split()) if compiled else set()
check(compiled == installed, "Dockerfile compiles the installed executables %s"
      % sorted(compiled ^ installed))
check(re.search(r"meson install -C \S+ --no-rebuild --destdir /staging", build_runs) is not None,
      "Dockerfile build stage installs into /staging")
check(sorted(os.path.basename(b) for b in binaries) == sorted(installed),
      "the test was given the installed binaries %s" % sorted(os.path.basename(b) for b in binaries))

# Runtime stage: the libraries the binaries link.
SANITIZER = re.compile(r"lib(asan|ubsan|lsan|tsan)\.|libclang_rt")  # a sanitizer build's


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)


def resolved(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
    return dict(re.findall(r"^\s*(\S+) => (/\S+)", out.stdout, re.M))


def packages_of(paths):
    """{path: package} in one dpkg -S call. dpkg knows a library by the path its package
    installs, which on a merged /usr system may be either side of the /lib -> /usr/lib link."""
    ask = {}
    for path in paths:
        real = os.path.realpath(path)
        for p in (path, real, real.replace("/usr/lib/", "/lib/", 1)):
            ask.setdefault(p, path)
    out = subprocess.run(["dpkg", "-S"] + sorted(ask), capture_output=True, text=True)
    found = {}
    for line in out.stdout.splitlines():
        pkg, _, p = line.partition(": ")
        if p in ask:
            found[ask[p]] = pkg.split(":")[0]
    return found


links = []  # (binary, soname, path)
for b in binaries:
    paths = resolved(b)
    for so in needed(b):
        if SANITIZER.search(so) or so.startswith("ld-linux"):
            continue
        if check(so in paths, "%s: ldd resolves %s" % (os.path.basename(b), so)):
            links.append((os.path.basename(b), so, paths[so]))
owner = packages_of({p for _, _, p in links})
lib_pkgs = {}  # package -> the libraries that need it
for b, so, path in links:
    if check(path in owner, "%s: %s is in a Debian package (%s)" % (b, so, owner.get(path))):
        lib_pkgs.setdefault(owner[path], set()).add(so)
# libc6: every Debian image has it (its essential packages need it).
needed_pkgs = set(lib_pkgs) - {"libc6"}
runtime_pkgs = set(apt_installed(runtime))
for pkg in sorted(needed_pkgs):
    check(pkg in runtime_pkgs, "Dockerfile runtime stage installs %s (for %s)"
          % (pkg, ", ".join(sorted(lib_pkgs[pkg]))))
HEALTH_TOOL = "curl"
extra = runtime_pkgs - needed_pkgs - {HEALTH_TOOL}
check(not extra, "Dockerfile runtime stage installs no package that no binary links %s"
      % sorted(extra))
check(HEALTH_TOOL in runtime_pkgs, "Dockerfile runtime stage installs %s (HEALTHCHECK)" % HEALTH_TOOL)
check(not any(p.endswith("-dev") for p in runtime_pkgs), "no -dev package in the runtime stage")
runtime_runs = " ".join(args_of(runtime, "RUN"))
check("--no-install-recommends" in runtime_runs and "rm -rf /var/lib/apt/lists" in runtime_runs,
      "runtime stage: apt-get without recommends, package lists removed")

# The workers' user: [supervisor] user's default (lib/config.c).
user = re.search(r'\{"supervisor", "user", T_STR, F\(user\), "([^"]+)"', open(
    rel("lib", "config.c")).read()).group(1)
check(re.search(r"useradd\b[^&]*--system[^&]*\b%s\s*(&&|$)" % re.escape(user), runtime_runs)
      is not None, "runtime stage creates the system user '%s' the workers drop to" % user)
users = args_of(runtime, "USER")
check(not users or users[-1] in ("root", "0"),
      "the supervisor starts as root (it drops each worker to '%s'), USER %s" % (user, users))
copies = args_of(runtime, "COPY")
check(any(c.startswith("--from=%s /staging/usr/bin/" % build_name) and c.endswith(" /usr/bin/")
          for c in copies), "runtime stage takes the installed binaries from the build stage")
volumes = [v for a in args_of(runtime, "VOLUME") for v in exec_form(a)]
check(volumes == ["/var/lib/aequa"], "VOLUME %s: the data dir" % volumes)
entry = exec_form(args_of(runtime, "ENTRYPOINT")[-1])
check(entry[:3] == ["/usr/bin/aequa-supervisor", "--config", "/etc/aequa/aequa.conf"],
      "ENTRYPOINT %s: the supervisor on /etc/aequa/aequa.conf" % entry)
exposed = {int(p.split("/")[0]) for a in args_of(runtime, "EXPOSE") for p in a.split()}
env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args_of(runtime, "ENV"))))
health = args_of(runtime, "HEALTHCHECK")
check(len(health) == 1 and re.search(
    r"CMD curl -fsS .*\"http://127\.0\.0\.1:\$\{AEQUA_API_PORT\}/health\"", health[0]) is not None,
    "HEALTHCHECK: curl -f on /health at 127.0.0.1:$AEQUA_API_PORT")

ignore = open(rel("deploy", "docker", "Dockerfile.dockerignore")).read().split("\n")
for pattern in (".git", "build*", "deploy/testnet/cluster", "**/*.key"):
    check(pattern in ignore, "the build context leaves out %s" % pattern)

# The single-node try-out config: the embedded default's cluster (no lock, no key), in the data
# volume, on node 0's ports, reachable through published ports.
single = configparser.ConfigParser()
single.read(rel("deploy", "docker", "single-node.conf"))
check(not single.has_option("node", "lock") and not single.has_option("node", "key") and
      single.get("node", "data_dir", fallback="/var/lib/aequa") == "/var/lib/aequa",
      "single-node.conf: a one-operator cluster created in the data volume")
check(single["api"]["listen"] == "0.0.0.0:4600" and single["monitoring"]["listen"] ==
      "0.0.0.0:4620", "single-node.conf: listens on 0.0.0.0, ports 4600 and 4620")

# ---------------------------------------------------------------- gen and the compose file
work = tempfile.mkdtemp(prefix="check-docker-")
aequactl = next(b for b in binaries if os.path.basename(b) == "aequactl")
out = os.path.join(work, "cluster")
gen = subprocess.run([rel("deploy", "testnet", "gen"), "--aequactl", aequactl, "--out", out],
                     capture_output=True, text=True)
print(gen.stdout + gen.stderr, end="")
if not check(gen.returncode == 0, "deploy/testnet/gen made a cluster"):
    sys.exit(1)
again = subprocess.run([rel("deploy", "testnet", "gen"), "--aequactl", aequactl, "--out", out],
                       capture_output=True, text=True)
check(again.returncode != 0 and "refusing" in again.stderr,
      "gen refuses to replace an existing cluster")
lock = json.load(open(os.path.join(out, "cluster-lock.json")))

# Node 0's defaults in the image are those of cluster create's node 0.
conf0 = configparser.ConfigParser()
conf0.read(os.path.join(out, "node0", "aequa.conf"))
port0 = {s: int(conf0[s]["listen"].rsplit(":", 1)[1]) for s in ("api", "monitoring", "p2p")}
check(exposed == set(port0.values()), "EXPOSE %s: node 0's ports %s" % (sorted(exposed), port0))
check(env.get("AEQUA_API_PORT") == str(port0["api"]),
      "ENV AEQUA_API_PORT=%s: node 0's API port" % env.get("AEQUA_API_PORT"))

compose_dir = rel("deploy", "testnet")
compose = yaml.safe_load(open(os.path.join(compose_dir, "docker-compose.yml")))
services = compose["services"]
nodes = sorted(s for s in services if s.startswith("node"))
check(nodes == ["node%d" % i for i in range(len(lock["operators"]))],
      "compose: one service per operator of the lock %s" % nodes)
check(set(services) == set(nodes) | {"prometheus"}, "compose: the nodes and prometheus")
declared_volumes = set(compose.get("volumes") or {})


def mounts(svc):
    """[(source, target, read_only)] of a service's short-syntax volumes; a relative source is
    resolved from the compose file's directory, a named volume is kept as its name."""
    res = []
    for v in svc.get("volumes", []):
        parts = v.split(":")
        src, dst, mode = parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"
        if src.startswith("."):
            src = os.path.normpath(os.path.join(compose_dir, src))
        res.append((src, dst, mode == "ro"))
    return res


def published(svc):
    """{container port: (host address, host port)} of a service's short-syntax ports."""
    res = {}
    for p in svc.get("ports", []):
        ip, host, container = p.split(":")
        res[int(container)] = (ip, int(host))
    return res


data_volumes = set()
for i, name in enumerate(nodes):
    svc = services[name]
    node_out = os.path.join(out, "node%d" % i)
    conf = configparser.ConfigParser()
    conf.read(os.path.join(node_out, "aequa.conf"))
    where = "compose %s" % name
    check(svc.get("image") == "aequa:latest" and svc.get("build", {}).get("dockerfile") ==
          "deploy/docker/Dockerfile" and os.path.normpath(os.path.join(
              compose_dir, svc["build"]["context"])) == root,
          "%s: the image of deploy/docker/Dockerfile, built from the repository root" % where)
    check("entrypoint" not in svc and not svc.get("command"),
          "%s: runs the image's ENTRYPOINT (the supervisor on /etc/aequa/aequa.conf)" % where)
    m = mounts(svc)
    etc = [(src, ro) for src, dst, ro in m if dst == "/etc/aequa"]
    check(etc == [(os.path.join(compose_dir, "cluster", "node%d" % i), True)],
          "%s: mounts its own cluster/node%d read-only at /etc/aequa" % (where, i))
    others = [src for src, _, _ in m if re.search(r"/cluster/node(?!%d$)" % i, src)]
    check(not others, "%s: mounts no other node's directory %s" % (where, others))
    # Every file its config names lies in /etc/aequa, i.e. in its own node directory.
    named = [conf["node"]["lock"], conf["node"]["key"]] + (
        [conf["tss"]["key"]] if conf.has_section("tss") else [])
    for path in named:
        check(path.startswith("/etc/aequa/") and os.path.isfile(
            os.path.join(node_out, path[len("/etc/aequa/"):])),
            "%s: %s is in its node directory" % (where, path))
    check(open(os.path.join(node_out, "cluster-lock.json")).read() == open(
        os.path.join(out, "cluster-lock.json")).read(), "%s: its lock is the cluster's" % where)
    check(os.stat(os.path.join(node_out, "node.key")).st_mode & 0o077 == 0,
          "%s: node.key stays 0600" % where)
    data = [src for src, dst, _ in m if dst == conf["node"]["data_dir"]]
    check(len(data) == 1 and data[0] in declared_volumes and data[0] not in data_volumes,
          "%s: data_dir %s is its own named volume %s" % (where, conf["node"]["data_dir"], data))
    data_volumes.update(data)
    check(conf["node"]["runtime_dir"] in svc.get("tmpfs", []),
          "%s: runtime_dir %s is a tmpfs" % (where, conf["node"]["runtime_dir"]))
    check(conf["node"]["index"] == str(i), "%s: index %d" % (where, i))
    listen = {s: conf[s]["listen"].rsplit(":", 1) for s in ("api", "monitoring", "p2p")}
    check(all(h == "0.0.0.0" for h, _ in listen.values()),
          "%s: every listener on 0.0.0.0 %s" % (where, listen))
    api, mon, p2p = (int(listen[s][1]) for s in ("api", "monitoring", "p2p"))
    check((api, mon, p2p) == (4600 + i, 4620 + i, 4640 + i),
          "%s: API %d, monitoring %d, P2P %d (SPEC §13)" % (where, api, mon, p2p))
    ports = published(svc)
    check(ports == {api: ("127.0.0.1", api), mon: ("127.0.0.1", mon)},
          "%s: publishes API and monitoring on the same ports of 127.0.0.1, not P2P %s"
          % (where, ports))
    check(lock["operators"][i]["p2p_address"] == "%s:%d" % (name, p2p),
          "%s: the lock's operator %d is %s:%d (the peers dial the service name)"
          % (where, i, name, p2p))
    check(str(svc.get("environment", {}).get("AEQUA_API_PORT")) == str(api),
          "%s: its health check asks its API port %d" % (where, api))
    # What the supervisor needs as root (privilege drop, SPEC §3.2), and no more.
    check(svc.get("cap_drop") == ["ALL"] and set(svc.get("cap_add", [])) == {
        "CHOWN", "DAC_READ_SEARCH", "FOWNER", "KILL", "SETGID", "SETPCAP", "SETUID"},
        "%s: capabilities: only those the privilege drop needs" % where)
    check(svc.get("read_only") is True, "%s: read-only root filesystem" % where)

# Prometheus: deploy/prometheus/ mounted, the testnet's scrape config beside it.
prom = services["prometheus"]
pm = {src: dst for src, dst, _ in mounts(prom)}
check(pm.get(rel("deploy", "prometheus")) is not None, "compose prometheus: mounts deploy/prometheus")
conf_arg = [a for a in prom.get("command", []) if a.startswith("--config.file=")]
conf_in = conf_arg[0].split("=", 1)[1] if conf_arg else None
conf_host = {dst: src for src, dst in pm.items()}.get(conf_in)
check(conf_host == rel("deploy", "testnet", "prometheus.yml"),
      "compose prometheus: --config.file %s is deploy/testnet/prometheus.yml" % conf_in)
pconf = yaml.safe_load(open(rel("deploy", "testnet", "prometheus.yml")))
base = yaml.safe_load(open(rel("deploy", "prometheus", "prometheus.yml")))
check(pconf["global"] == base["global"], "testnet prometheus.yml: deploy/prometheus's intervals")


def in_container(host_path):
    for src, dst in pm.items():
        if host_path == src or host_path.startswith(src + "/"):
            return dst + host_path[len(src):]
    return None


rules_base = sorted(os.path.normpath(os.path.join(rel("deploy", "prometheus"), r))
                    for r in base["rule_files"])
rules_here = sorted(os.path.normpath(os.path.join(compose_dir, r)) for r in pconf["rule_files"])
check(rules_here == rules_base, "testnet prometheus.yml loads the rules of deploy/prometheus")
for r in pconf["rule_files"]:
    host = os.path.normpath(os.path.join(compose_dir, r))
    cont = os.path.normpath(os.path.join(os.path.dirname(conf_in or "/"), r))
    check(in_container(host) == cont, "compose prometheus: rule file %s is at %s" % (r, cont))
jobs = pconf["scrape_configs"]
targets = sorted(t for j in jobs for sc in j.get("static_configs", []) for t in sc["targets"])
want = []
for i, name in enumerate(nodes):
    conf = configparser.ConfigParser()
    conf.read(os.path.join(out, "node%d" % i, "aequa.conf"))
    want.append("%s:%s" % (name, conf["monitoring"]["listen"].rsplit(":", 1)[1]))
check(targets == sorted(want), "testnet prometheus.yml scrapes %s" % sorted(want))
check(all(j.get("metrics_path", "/metrics") == "/metrics" for j in jobs), "scrape path /metrics")
tag = prom.get("image", "")
check(re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", tag) is not None,
      "compose prometheus: a pinned image %s" % tag)
promtool = shutil.which("promtool")
if promtool:
    r = subprocess.run([promtool, "check", "config", rel("deploy", "testnet", "prometheus.yml")],
                       capture_output=True, text=True)
    check(r.returncode == 0, "promtool check config deploy/testnet/prometheus.yml" +
          ("" if r.returncode == 0 else ":\n" + r.stdout + r.stderr))
else:
    print("skip: promtool check config (no promtool; scripts/setup installs prometheus)")

gitignore = open(rel("deploy", "testnet", ".gitignore")).read().split()
check("/cluster/" in gitignore, "git ignores deploy/testnet/cluster/ (secret keys)")

shutil.rmtree(work)
if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all checks passed")
