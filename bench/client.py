"""The benchmarks' HTTP client: a call with the bench's key, a JSON body in and the status and JSON out."""
import json
import urllib.request


def caller(base, key, parse=True):
    """`call(method, path, body=None) -> (status, parsed JSON or None)` against `base`; with
    `parse=False` the body is read but not parsed (a latency measurement times the server, not this)."""

    def call(method, path, body=None):
        data = json.dumps(body).encode() if body else None
        req = urllib.request.Request(base + path, method=method, data=data)
        req.add_header("Authorization", f"Bearer {key}")
        if body:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as r:
            text = r.read()
            return r.status, (json.loads(text) if text and parse else None)

    return call
