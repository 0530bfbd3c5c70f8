"""Shared pieces of the reliability scripts: requests, servers, PostgreSQL helpers.

Everything here touches only loopback addresses and processes the scripts started.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def request(base, method, path, key, body=None, idempotency_key=None, timeout=30):
    """(status, headers, body bytes); a connection failure raises OSError (URLError, ConnectionError)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if idempotency_key:
        req.add_header("Idempotency-Key", idempotency_key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def wait_healthy(base, proc, log, tries=150):
    for _ in range(tries):
        if proc.poll() is not None:
            sys.exit(f"a server exited at start:\n{open(log).read()}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"a server did not become healthy:\n{open(log).read()}")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, env, port, log):
    """An `updog serve` on 127.0.0.1:port, its output in `log`; waits until it is healthy."""
    proc = subprocess.Popen([binary, "serve"], env=dict(env, UPDOG_BIND=f"127.0.0.1:{port}"),
                            stdout=open(log, "a"), stderr=subprocess.STDOUT)
    wait_healthy(f"http://127.0.0.1:{port}", proc, log)
    return proc


def mint_admin_key(binary, env):
    return subprocess.run([binary, "keys", "create", "--role", "admin"], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def fresh_database(server, name):
    psql(f"{server}/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"{server}/postgres", f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def drop_database(server, name):
    try:
        psql(f"{server}/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except subprocess.CalledProcessError:
        pass


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def created_id(base, key, path, body):
    status, _, raw = request(base, "POST", path, key, body)
    assert status == 201, (path, status, raw)
    return json.loads(raw)["id"]


def seed_fund(base, key):
    """A fund with a company, an investment and its first lot (so that the company holds shares a
    distribution can come from, SPEC §6.1a): (fund, company, investment)."""
    fund = created_id(base, key, "/api/v1/funds",
                      {"name": "Fund I", "size_cents": 10_000_000_000, "vintage_year": 2024})
    company = created_id(base, key, f"/api/v1/funds/{fund}/companies", {"name": "Acme", "stage": "seed"})
    investment = created_id(base, key, f"/api/v1/funds/{fund}/investments",
                            {"company_id": company, "round_name": "Seed", "invested_on": "2024-01-15"})
    created_id(base, key, f"/api/v1/funds/{fund}/investments/{investment}/lots",
               {"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "1000",
                "acquired_on": "2024-01-15"})
    return fund, company, investment


def log_tail(path, chars=3000):
    try:
        return open(path).read()[-chars:]
    except OSError:
        return ""


def env_for(db_url, **extra):
    env = dict(os.environ, DATABASE_URL=db_url, UPDOG_MIGRATE_ON_START="true", RUST_LOG="warn")
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env
