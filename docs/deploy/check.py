#!/usr/bin/env python3
"""Check the example deployment files without Docker.

Docker does not run where these files were written, so nothing here starts
a container. What can be checked without it is:

- docker-compose.yml parses (PyYAML, merge keys included) and has the
  services docs/deploy.md describes: three Kafka brokers, PostgreSQL,
  three Parley nodes and nginx;
- the brokers agree with one another: one cluster ID, node IDs matching
  the controller quorum, advertised listeners that the Parley nodes use,
  replication factor 3 and min.insync.replicas 2;
- every PARLEY_* variable given to a node is the environment twin of a
  flag that `parley serve --help` lists, and the settings every node must
  share (Kafka, database, API key, JWT secret, topics) are the same;
- only nginx publishes a port;
- nginx.conf sends traffic to exactly the Parley nodes, on the port they
  listen on, and `nginx -t` accepts it (with the node names pointed at
  127.0.0.1, since they only resolve inside the compose network).

Usage: python3 docs/deploy/check.py [path/to/parley]
Without a path it builds the binary with `go build` into a temporary
folder. It needs PyYAML (pip install pyyaml) and, for the last check,
nginx in PATH (skipped with a note when missing). It exits non-zero on the
first kind of problem it finds, listing them all.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BROKERS = ["kafka-1", "kafka-2", "kafka-3"]
NODES = ["parley-1", "parley-2", "parley-3"]
# Settings that must be equal on every node of a cluster.
SHARED = ["PARLEY_KAFKA", "PARLEY_DATABASE", "PARLEY_API_KEY", "PARLEY_JWT_SECRET",
          "PARLEY_REPLICATION_FACTOR", "PARLEY_DM_TOPIC", "PARLEY_GROUP_TOPIC",
          "PARLEY_NOTIFICATION_TOPIC", "PARLEY_DEAD_LETTER_TOPIC", "PARLEY_ARCHIVER_GROUP",
          "PARLEY_NOTIFIER_GROUP", "PARLEY_DM_PARTITIONS", "PARLEY_GROUP_PARTITIONS",
          "PARLEY_NOTIFICATION_PARTITIONS"]

problems = []


def problem(msg):
    problems.append(msg)


def parley_env_vars(binary):
    """Returns the PARLEY_* twins of the flags `parley serve --help` lists."""
    out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    names = set(re.findall(r"--[a-z0-9-]+\s+\[(PARLEY_[A-Z0-9_]+)\]", text))
    if not names:
        sys.exit("no flags found in `parley serve --help`:\n" + text)
    return names


def build_parley(tmp):
    binary = os.path.join(tmp, "parley")
    subprocess.run(["go", "build", "-o", binary, "./cmd/parley"], cwd=ROOT, check=True, timeout=600)
    return binary


def check_brokers(services):
    envs = {b: services[b].get("environment", {}) for b in BROKERS}
    ids = {str(e.get("CLUSTER_ID")) for e in envs.values()}
    if len(ids) != 1:
        problem(f"brokers disagree on CLUSTER_ID: {ids}")
    voters = {}
    for b, e in envs.items():
        for v in str(e.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")).split(","):
            node_id, _, addr = v.partition("@")
            voters.setdefault(b, {})[node_id] = addr
        if str(e.get("KAFKA_DEFAULT_REPLICATION_FACTOR")) != "3":
            problem(f"{b}: KAFKA_DEFAULT_REPLICATION_FACTOR is not 3")
        if str(e.get("KAFKA_MIN_INSYNC_REPLICAS")) != "2":
            problem(f"{b}: KAFKA_MIN_INSYNC_REPLICAS is not 2")
        if str(e.get("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE")) != "false":
            problem(f"{b}: unclean leader election is not off")
        if "broker" not in str(e.get("KAFKA_PROCESS_ROLES", "")):
            problem(f"{b}: not a broker")
    quorum = voters.get(BROKERS[0], {})
    for b in BROKERS:
        if voters.get(b) != quorum:
            problem(f"{b}: controller quorum differs from {BROKERS[0]}'s")
        node_id = str(envs[b].get("KAFKA_NODE_ID"))
        if not quorum.get(node_id, "").startswith(b + ":"):
            problem(f"{b}: KAFKA_NODE_ID {node_id} is not its entry in the quorum {quorum}")
    advertised = set()
    for b, e in envs.items():
        for listener in str(e.get("KAFKA_ADVERTISED_LISTENERS", "")).split(","):
            advertised.add(listener.split("://", 1)[-1])
    return advertised


def check_nodes(services, twins, advertised):
    envs = {n: services[n].get("environment", {}) for n in NODES}
    for n, e in envs.items():
        for k in e:
            if k.startswith("PARLEY_") and k not in twins:
                problem(f"{n}: {k} is no flag of `parley serve`")
        brokers = str(e.get("PARLEY_KAFKA", "")).split(",")
        if sorted(brokers) != sorted(advertised):
            problem(f"{n}: PARLEY_KAFKA {brokers} is not the brokers' advertised listeners {sorted(advertised)}")
        if not str(e.get("PARLEY_DATABASE", "")).startswith("postgres://"):
            problem(f"{n}: PARLEY_DATABASE is not a postgres:// URL")
        if "@postgres:" not in str(e.get("PARLEY_DATABASE", "")):
            problem(f"{n}: PARLEY_DATABASE does not point at the postgres service")
        for dep in services[n].get("depends_on", {}):
            if dep not in services:
                problem(f"{n}: depends on unknown service {dep}")
    for k in SHARED:
        values = {n: e.get(k) for n, e in envs.items()}
        if len(set(map(str, values.values()))) != 1:
            problem(f"nodes disagree on {k}: {values}")
    ports = set()
    for n, e in envs.items():
        host, _, port = str(e.get("PARLEY_HTTP", "")).rpartition(":")
        if host not in ("0.0.0.0", "", "[::]"):
            problem(f"{n}: PARLEY_HTTP {host}:{port} is not reachable from nginx")
        ports.add(port)
    if len(ports) != 1:
        problem(f"nodes listen on different ports: {ports}")
    return ports.pop() if ports else ""


def check_ports(services):
    for name, svc in services.items():
        if svc.get("ports") and name != "nginx":
            problem(f"{name} publishes ports {svc['ports']}; only nginx should")


def check_nginx(services, node_port):
    conf_path = os.path.join(HERE, "nginx.conf")
    mounts = services["nginx"].get("volumes", [])
    if not any(str(m).startswith("./nginx.conf:") for m in mounts):
        problem("the nginx service does not mount ./nginx.conf")
    conf = open(conf_path).read()
    upstream = re.search(r"upstream parley \{(.*?)\}", conf, re.S)
    servers = re.findall(r"^\s*server\s+([^\s;]+)", upstream.group(1) if upstream else "", re.M)
    want = [f"{n}:{node_port}" for n in NODES]
    if sorted(servers) != sorted(want):
        problem(f"nginx upstream {servers}, want {want}")
    for path in ("/v1/ws", "/v1/events"):
        if f"location = {path}" not in conf:
            problem(f"nginx.conf has no location for {path}")
    if "proxy_set_header Upgrade $http_upgrade" not in conf:
        problem("nginx.conf does not pass the WebSocket upgrade")
    if "proxy_buffering off" not in conf:
        problem("nginx.conf buffers SSE")

    nginx = shutil.which("nginx")
    if nginx is None:
        print("note: nginx not in PATH; `nginx -t` skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        local = conf
        for n in NODES:
            local = local.replace(f"server {n}:", "server 127.0.0.1:")
        path = os.path.join(tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(local)
        out = subprocess.run([nginx, "-t", "-q", "-p", tmp, "-c", path, "-g", "error_log stderr;"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            problem("nginx -t: " + out.stderr.strip())
        else:
            print("nginx -t: configuration accepted")


def main():
    with open(os.path.join(HERE, "docker-compose.yml")) as f:
        compose = yaml.safe_load(f)
    services = compose.get("services", {})
    for s in BROKERS + NODES + ["postgres", "nginx"]:
        if s not in services:
            sys.exit(f"docker-compose.yml: no service {s}")

    with tempfile.TemporaryDirectory() as tmp:
        binary = sys.argv[1] if len(sys.argv) > 1 else build_parley(tmp)
        twins = parley_env_vars(binary)

    advertised = check_brokers(services)
    node_port = check_nodes(services, twins, advertised)
    check_ports(services)
    check_nginx(services, node_port)

    if problems:
        for p in problems:
            print("problem:", p)
        sys.exit(1)
    print(f"docker-compose.yml: {len(services)} services consistent; "
          f"{len(twins)} serve flags known")


if __name__ == "__main__":
    main()
