#!/usr/bin/env python3
"""Exactly once across processes (SPEC §4, §17).

Starts three `updog serve` processes on one fresh PostgreSQL database and, for every creating route,
sends 64 concurrent requests with one Idempotency-Key, spread round-robin over the three. Checks: no 5xx;
every answer is the recorded one (2xx) or 409 `idempotency_request_in_progress`; exactly one request
executed; every replay carries the same bytes; the route's table gained exactly one row.

Usage: three_processes.py <path to the updog binary> [postgres server URL]
Bounded: every request times out after 30 s, the servers are stopped whatever happens.
"""

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from harness import psql, request, wait_healthy

REQUESTS = 64
PROCESSES = 3


def matrix_config(seed):
    return {"taxonomy_version": "v1", "num_scenarios": 5000, "seed": seed,
            "buckets": [{"name": "seed", "capital_allocation_pct": "40", "moic_median": "1.5", "moic_p90": "6"},
                        {"name": "series_a", "capital_allocation_pct": "60", "moic_median": "2", "moic_p90": "4"}],
            "correlation_weights": {"macro": "0.3", "systematic": "0.3", "idiosyncratic": "0.4"}}


def main():
    binary = os.path.abspath(sys.argv[1])
    server = sys.argv[2] if len(sys.argv) > 2 else "postgres://postgres@127.0.0.1:5432"
    database = f"updog_reliability_{os.getpid()}"
    admin_url = f"{server}/postgres"
    db_url = f"{server}/{database}"
    psql(admin_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {database}")
    env = dict(os.environ, DATABASE_URL=db_url, UPDOG_MIGRATE_ON_START="true", RUST_LOG="warn",
               UPDOG_WORKERS="0")
    env.pop("REDIS_URL", None)
    servers = []
    logs = []
    try:
        key = subprocess.run([binary, "keys", "create", "--role", "admin"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        bases = []
        for i in range(PROCESSES):
            port = 18300 + (os.getpid() % 500) * 3 + i
            log = f"/tmp/updog-reliability-{os.getpid()}-{i}.log"
            logs.append(log)
            proc = subprocess.Popen([binary, "serve"], env=dict(env, UPDOG_BIND=f"127.0.0.1:{port}"),
                                    stdout=open(log, "w"), stderr=subprocess.STDOUT)
            servers.append(proc)
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc, log in zip(bases, servers, logs):
            wait_healthy(base, proc, log)
        print(f"{PROCESSES} updog processes on {database}: {', '.join(bases)}")

        def created(path, body):
            status, headers, raw = request(bases[0], "POST", path, key, body)
            assert status == 201, (path, status, raw)
            return json.loads(raw)["id"]

        fund = created("/api/v1/funds", {"name": "Fund I", "size_cents": 10_000_000_000, "vintage_year": 2024})
        company = created(f"/api/v1/funds/{fund}/companies", {"name": "Acme", "stage": "seed"})
        investment = created(f"/api/v1/funds/{fund}/investments",
                             {"company_id": company, "round_name": "Seed", "invested_on": "2024-01-15"})
        status, _, raw = request(bases[0], "POST", f"/api/v1/funds/{fund}/scenario-matrices", key, matrix_config(3))
        assert status == 201, (status, raw)
        matrix_key = json.loads(raw)["matrix_key"]
        routes = [
            ("funds", "/api/v1/funds", {"name": "Fund II", "size_cents": 5_000_000_000, "vintage_year": 2025}),
            ("portfolio_companies", f"/api/v1/funds/{fund}/companies", {"name": "Beta", "stage": "seed"}),
            ("investments", f"/api/v1/funds/{fund}/investments",
             {"company_id": company, "round_name": "A", "invested_on": "2024-02-01"}),
            ("investment_lots", f"/api/v1/funds/{fund}/investments/{investment}/lots",
             {"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "10", "acquired_on": "2024-02-01"}),
            ("distributions", f"/api/v1/funds/{fund}/distributions",
             {"company_id": company, "distributed_on": "2024-06-01", "amount_cents": 500, "kind": "dividend"}),
            ("forecast_snapshots", f"/api/v1/funds/{fund}/snapshots", {"name": "Q2"}),
            ("api_keys", "/api/v1/api-keys", {"name": "analyst", "role": "reader", "fund_ids": [fund]}),
            ("scenario_matrices", f"/api/v1/funds/{fund}/scenario-matrices", matrix_config(1)),
            ("optimization_sessions", f"/api/v1/scenario-matrices/{matrix_key}/optimizations",
             {"objective": "minimize_risk", "min_expected_moic": 1.2}),
        ]
        failures = []
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            for table, path, body in routes:
                before = int(psql(db_url, f"SELECT count(*) FROM {table}"))
                idem = f"one-key-{table}"
                answers = list(pool.map(
                    lambda i: request(bases[i % PROCESSES], "POST", path, key, body, idem), range(REQUESTS)))
                after = int(psql(db_url, f"SELECT count(*) FROM {table}"))
                statuses = {}
                for status, _, _ in answers:
                    statuses[status] = statuses.get(status, 0) + 1
                executed = [a for a in answers if 200 <= a[0] < 300
                            and a[1].get("Idempotent-Replayed", a[1].get("idempotent-replayed")) != "true"]
                replays = [a for a in answers if 200 <= a[0] < 300 and a not in executed]
                busy = [a for a in answers if a[0] == 409
                        and json.loads(a[2]).get("code") == "idempotency_request_in_progress"]
                others = [a for a in answers if not (200 <= a[0] < 300) and a not in busy]
                line = (f"POST {path}: sent {REQUESTS} with one key over {PROCESSES} processes; "
                        f"statuses {statuses}; executed {len(executed)}, replayed {len(replays)}, "
                        f"in progress {len(busy)}; rows {before} -> {after}")
                print(line)
                if len(executed) != 1:
                    failures.append(f"{path}: {len(executed)} requests executed")
                if others:
                    failures.append(f"{path}: {len(others)} unexpected answers, e.g. {[(a[0], a[2][:200]) for a in others[:3]]}")
                if len({(a[0], a[2]) for a in replays}) > 1:
                    failures.append(f"{path}: replays differ")
                if table != "api_keys" and executed and any(r[2] != executed[0][2] for r in replays):
                    failures.append(f"{path}: a replay differs from the original")
                if after != before + 1:
                    failures.append(f"{path}: {after - before} rows")
        # A matrix is also keyed by its config: the same config without an Idempotency-Key, from every
        # process at once, is generated and stored once (one 201, the rest 200 with the same matrix).
        path = f"/api/v1/funds/{fund}/scenario-matrices"
        before = int(psql(db_url, "SELECT count(*) FROM scenario_matrices"))
        answers = list(ThreadPoolExecutor(max_workers=REQUESTS).map(
            lambda i: request(bases[i % PROCESSES], "POST", path, key, matrix_config(2)), range(REQUESTS)))
        after = int(psql(db_url, "SELECT count(*) FROM scenario_matrices"))
        statuses = {}
        for status, _, _ in answers:
            statuses[status] = statuses.get(status, 0) + 1
        ids = {json.loads(a[2]).get("id") for a in answers if a[0] in (200, 201)}
        print(f"POST {path}: sent {REQUESTS} of one config without a key over {PROCESSES} processes; "
              f"statuses {statuses}; matrices {ids}; rows {before} -> {after}")
        if statuses.get(201) != 1 or statuses.get(200) != REQUESTS - 1:
            failures.append(f"{path} without a key: statuses {statuses}")
        if len(ids) != 1 or after != before + 1:
            failures.append(f"{path} without a key: {len(ids)} matrices, {after - before} rows")
        for proc in servers:
            if proc.poll() is not None:
                failures.append("a server process exited during the run")
        if failures:
            for log in logs:
                print(open(log).read()[-3000:])
            sys.exit("FAILED:\n  " + "\n  ".join(failures))
        print(f"checked {len(routes)} creating routes: one row and one response each, no 5xx")
    finally:
        for proc in servers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in servers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        psql(admin_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


if __name__ == "__main__":
    main()
