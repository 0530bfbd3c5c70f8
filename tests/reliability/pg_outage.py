#!/usr/bin/env python3
"""PostgreSQL stopped under a running server (SPEC §17, issue #15).

Starts its own PostgreSQL cluster (`initdb` + `pg_ctl`, its own port and directory, run as the
`postgres` user when this runs as root) and an `updog serve` (one worker) on it, then:
1. a load of reads and creates, all answered 2xx;
2. the cluster stopped (`pg_ctl stop -m fast`), and 0.3 s later requests go on: every answer must be a
   503 problem with `Retry-After` within 0.5 s, the first included (issue #25: the server's own watch
   connection notices the outage within 250 ms, so no request waits for the pool's acquire timeout);
   `/readyz` 503; the process stays up;
3. the cluster started again: requests succeed within 5 s; a snapshot posted then is calculated (the
   worker claims jobs again).
Usage: pg_outage.py <updog binary>. Bounded: about 200 requests and 60 s; the cluster, its directory and
the server are removed whatever happens. Never touches the shared PostgreSQL service.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import free_port, header, log_tail, mint_admin_key, request, seed_fund, start_server, stop

FAST = 0.5


def pg_bin(tool):
    found = shutil.which(tool) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))), None)
    if not found:
        sys.exit(f"{tool} not found (install PostgreSQL's server package)")
    return found


def as_postgres(args):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + args
    return args


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="updog-pg-outage-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(as_postgres([pg_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres"]),
                       check=True, capture_output=True)

    def start(self):
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"),
                                    "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
                                    "-w", "start"]), check=True, capture_output=True)

    def stop(self):
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"]),
                       capture_output=True)

    def url(self, db="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(base, method, path, key, body=None, idem=None):
    started = time.monotonic()
    status, headers, raw = request(base, method, path, key, body, idem, timeout=30)
    return status, headers, raw, time.monotonic() - started


def main():
    binary = os.path.abspath(sys.argv[1])
    cluster = Cluster()
    server = None
    log = f"/tmp/updog-pg-outage-{os.getpid()}.log"
    try:
        cluster.start()
        subprocess.run(["psql", cluster.url(), "-Atqc", "CREATE DATABASE updog"], check=True, capture_output=True)
        env = dict(os.environ, DATABASE_URL=cluster.url("updog"), UPDOG_MIGRATE_ON_START="true",
                   RUST_LOG="warn", UPDOG_WORKERS="1")
        env.pop("REDIS_URL", None)
        key = mint_admin_key(binary, env)
        port = free_port()
        server = start_server(binary, env, port, log)
        base = f"http://127.0.0.1:{port}"
        fund, company, investment = seed_fund(base, key)
        print(f"own PostgreSQL on port {cluster.port} ({cluster.dir}); updog on {base}")
        failures = []

        def load(round_, n):
            out = []
            for i in range(n):
                if i % 2:
                    out.append(timed(base, "GET", f"/api/v1/funds/{fund}/companies", key))
                else:
                    out.append(timed(base, "POST", f"/api/v1/funds/{fund}/investments/{investment}/lots", key,
                                     {"lot_type": "follow_on", "share_price_cents": 100, "shares_acquired": "1",
                                      "acquired_on": "2024-03-01"}, f"outage-{round_}-{i}"))
            return out

        before = load("before", 40)
        ok = sum(1 for s, *_ in before if 200 <= s < 300)
        print(f"before the outage: {len(before)} requests, {ok} 2xx")
        if ok != len(before):
            failures.append(f"before the outage: {len(before) - ok} non-2xx")

        cluster.stop()
        print("PostgreSQL stopped")
        # The watch asks every 100 ms; a stopped server fails the question at once.
        time.sleep(0.3)
        during = load("during", 60)
        statuses = {}
        for s, *_ in during:
            statuses[s] = statuses.get(s, 0) + 1
        first = during[0][3]
        rest = [d for _, _, _, d in during[1:]]
        worst = max(first, max(rest))
        bad = [(s, h, r) for s, h, r, _ in during
               if s != 503 or header(h, "Retry-After") is None
               or not (header(h, "Content-Type") or "").startswith("application/problem+json")]
        print(f"during the outage: {len(during)} requests, statuses {statuses}; the first answered in "
              f"{first:.3f} s, the others in at most {worst:.3f} s (median {sorted(rest)[len(rest) // 2]:.3f} s)")
        if bad:
            failures.append(f"{len(bad)} answers were not 503 problems with Retry-After, e.g. {bad[0][0]}")
        if worst > FAST:
            failures.append(f"an answer took {worst:.3f} s during the outage, the first included (limit {FAST} s)")
        ready, _, _, ready_took = timed(base, "GET", "/readyz", None)
        print(f"/readyz during the outage: {ready} in {ready_took:.3f} s")
        if ready != 503:
            failures.append(f"/readyz answered {ready}")
        if server.poll() is not None:
            failures.append("the server exited during the outage")

        cluster.start()
        restarted = time.monotonic()
        print("PostgreSQL started again")
        recovered = None
        while time.monotonic() - restarted < 10:
            s, *_ = timed(base, "GET", f"/api/v1/funds/{fund}/companies", key)
            if s == 200:
                recovered = time.monotonic() - restarted
                break
            time.sleep(0.05)
        print(f"first 2xx {recovered:.3f} s after the restart" if recovered is not None else "no 2xx in 10 s")
        if recovered is None or recovered > 5:
            failures.append(f"recovery took {recovered} s (limit 5 s)")
        after = load("after", 40)
        ok = sum(1 for s, *_ in after if 200 <= s < 300)
        print(f"after the restart: {len(after)} requests, {ok} 2xx")
        if ok != len(after):
            failures.append(f"after the restart: {len(after) - ok} non-2xx")
        s, _, raw, _ = timed(base, "POST", f"/api/v1/funds/{fund}/snapshots", key, {"name": "after the outage"})
        snapshot = json.loads(raw)["id"]
        calculated = None
        for _ in range(100):
            s, _, raw, _ = timed(base, "GET", f"/api/v1/snapshots/{snapshot}", key)
            if json.loads(raw)["status"] == "complete":
                calculated = True
                break
            time.sleep(0.1)
        print(f"a snapshot posted after the restart: {'calculated' if calculated else 'NOT calculated'}")
        if not calculated:
            failures.append("the worker did not calculate a snapshot after the restart")
        if failures:
            print(log_tail(log))
            sys.exit("FAILED:\n  " + "\n  ".join(failures))
        print("checked: fast 503s with Retry-After during the outage, recovery within 5 s, workers resumed")
    finally:
        stop(server)
        cluster.remove()


if __name__ == "__main__":
    main()
