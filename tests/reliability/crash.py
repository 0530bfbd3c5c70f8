#!/usr/bin/env python3
"""kill -9 of a server during a write load (SPEC §17, issue #15).

Two `updog serve` processes (A and B, one worker each, job lease 5 s) on one fresh PostgreSQL database.
Four clients create lots, distributions, companies and snapshots with distinct Idempotency-Keys on A;
once 40 creates have been acknowledged A is killed with SIGKILL; a client whose request fails with a
connection error retries the same key on B. Afterwards A is restarted and the outbox drained.

Checks: every create that got a 2xx exists; every key has exactly one row and one idempotency record;
no lot, distribution or company without its record, no snapshot without its job; every job completes;
no 5xx. Usage: crash.py <updog binary> [postgres server URL]. Bounded: 160 creates, 30 s per request,
90 s for the outbox to drain; the servers and the database are removed whatever happens.
"""

import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import (drop_database, env_for, free_port, fresh_database, log_tail, mint_admin_key, psql,
                     request, seed_fund, start_server, stop)

CLIENTS = 4
KEYS_PER_CLIENT = 40
KILL_AFTER = 40


def main():
    binary = os.path.abspath(sys.argv[1])
    server = sys.argv[2] if len(sys.argv) > 2 else "postgres://postgres@127.0.0.1:5432"
    name = f"updog_crash_{os.getpid()}"
    db_url = fresh_database(server, name)
    env = env_for(db_url, UPDOG_WORKERS="1", UPDOG_JOB_LEASE_S="5")
    log = f"/tmp/updog-crash-{os.getpid()}.log"
    port_a, port_b = free_port(), free_port()
    a = b = None
    try:
        key = mint_admin_key(binary, env)
        a = start_server(binary, env, port_a, log)
        b = start_server(binary, env, port_b, log)
        base_a, base_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        fund, company, investment = seed_fund(base_a, key)
        print(f"servers A {base_a} (pid {a.pid}) and B {base_b} on {name}")

        def create(i, idem):
            kind = i % 4
            if kind == 0:
                return ("investment_lots", f"/api/v1/funds/{fund}/investments/{investment}/lots",
                        {"lot_type": "follow_on", "share_price_cents": 100 + i, "shares_acquired": "10",
                         "acquired_on": "2024-02-01"})
            if kind == 1:
                return ("distributions", f"/api/v1/funds/{fund}/distributions",
                        {"company_id": company, "distributed_on": "2024-06-01", "amount_cents": 100 + i,
                         "kind": "dividend"})
            if kind == 2:
                return ("portfolio_companies", f"/api/v1/funds/{fund}/companies",
                        {"name": f"Company {idem}", "stage": "seed"})
            return ("forecast_snapshots", f"/api/v1/funds/{fund}/snapshots", {"name": f"Snapshot {idem}"})

        acknowledged = []  # (table, key, status, id)
        lock = threading.Lock()
        killed = threading.Event()
        retries = [0]
        server_errors = []
        refused = []

        def client(c):
            for j in range(KEYS_PER_CLIENT):
                i = c * KEYS_PER_CLIENT + j
                idem = f"crash-{c}-{j}"
                table, path, body = create(i, idem)
                bases = [base_b] if killed.is_set() else [base_a, base_b]
                for attempt in range(6):
                    base = bases[min(attempt, len(bases) - 1)]
                    try:
                        status, _, raw = request(base, "POST", path, key, body, idem)
                    except OSError:
                        with lock:
                            retries[0] += 1
                        bases = [base_b]
                        time.sleep(0.1)
                        continue
                    if status >= 500:
                        server_errors.append((path, status, raw[:200]))
                    elif 200 <= status < 300:
                        with lock:
                            acknowledged.append((table, idem, status, json.loads(raw)["id"]))
                            if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                                killed.set()
                                os.kill(a.pid, signal.SIGKILL)
                                print(f"SIGKILL to A after {len(acknowledged)} acknowledged creates")
                    elif status == 409 and (b"idempotency_request_in_progress" in raw
                                            or b"snapshot_in_progress" in raw):
                        # Another request holds the key, or captures the same fund state: retry.
                        time.sleep(0.2)
                        continue
                    else:
                        refused.append((path, idem, status, raw[:200]))
                    break

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))
        a.wait()
        print(f"sent {CLIENTS * KEYS_PER_CLIENT} creates; acknowledged {len(acknowledged)}; "
              f"retried after a connection error {retries[0]}; 5xx {len(server_errors)}")

        a = start_server(binary, env, port_a, log)
        print("A restarted; waiting for the outbox to drain")
        deadline = time.time() + 90
        while time.time() < deadline:
            left = int(psql(db_url, "SELECT count(*) FROM job_outbox WHERE status IN ('pending', 'processing')"))
            if left == 0:
                break
            time.sleep(0.5)

        failures = []
        if server_errors:
            failures.append(f"5xx answers: {server_errors[:3]}")
        if refused:
            failures.append(f"refused: {refused[:3]}")
        if len(acknowledged) != CLIENTS * KEYS_PER_CLIENT:
            failures.append(f"{CLIENTS * KEYS_PER_CLIENT - len(acknowledged)} creates never acknowledged")
        for table, idem, status, rid in acknowledged:
            rows = int(psql(db_url, f"SELECT count(*) FROM {table} WHERE idempotency_key = '{idem}'"))
            records = int(psql(db_url, f"SELECT count(*) FROM idempotency_records WHERE idempotency_key = '{idem}'"))
            exists = int(psql(db_url, f"SELECT count(*) FROM {table} WHERE id = '{rid}'"))
            # A snapshot of a fund state already captured answers 200 with that snapshot (SPEC §7.1): its
            # key then made no row of its own.
            expected_rows = 0 if (table == "forecast_snapshots" and status == 200) else 1
            if rows != expected_rows or records != 1 or exists != 1:
                failures.append(f"{table} {idem}: {rows} rows, {records} records, acknowledged row found {exists}")
        partial = {
            "keyed rows without their record": """
                SELECT count(*) FROM (
                  SELECT idempotency_key FROM investment_lots WHERE idempotency_key IS NOT NULL
                  UNION ALL SELECT idempotency_key FROM distributions WHERE idempotency_key IS NOT NULL
                  UNION ALL SELECT idempotency_key FROM portfolio_companies WHERE idempotency_key IS NOT NULL
                  UNION ALL SELECT idempotency_key FROM forecast_snapshots WHERE idempotency_key IS NOT NULL
                ) k WHERE NOT EXISTS (SELECT 1 FROM idempotency_records r WHERE r.idempotency_key = k.idempotency_key)""",
            "snapshots without their job": """
                SELECT count(*) FROM forecast_snapshots s
                WHERE NOT EXISTS (SELECT 1 FROM job_outbox j WHERE j.dedupe_key = s.id::text)""",
            "jobs not completed": "SELECT count(*) FROM job_outbox WHERE status <> 'completed'",
            "snapshots not complete": "SELECT count(*) FROM forecast_snapshots WHERE status <> 'complete'",
        }
        for what, sql in partial.items():
            n = int(psql(db_url, sql))
            print(f"{what}: {n}")
            if n:
                failures.append(f"{n} {what}")
        counts = {t: psql(db_url, f"SELECT count(*) FROM {t}") for t in
                  ["investment_lots", "distributions", "portfolio_companies", "forecast_snapshots",
                   "idempotency_records", "job_outbox"]}
        print(f"rows afterwards: {counts}")
        if failures:
            print(log_tail(log))
            sys.exit("FAILED:\n  " + "\n  ".join(failures[:20]))
        print(f"checked {len(acknowledged)} acknowledged creates: each exists once with its record; "
              "nothing partial; every job completed after the restart")
    finally:
        stop(a)
        stop(b)
        drop_database(server, name)


if __name__ == "__main__":
    main()
