"""Test functions in Python: Python's own clocks and randomness replay identically, waits and
children work, errors fail the invocation (built by scripts/build-guests.sh as
py_guests.wasm)."""

import random
import time
import uuid

import reprise
from reprise import Guest  # noqa: F401  (the component's exports)


@reprise.function
def entropy(job):
    """Reads time.time(), random and uuid4, sends them to `job["url"]`, and returns them: a
    replay must send and return the same values."""
    values = {
        "time": time.time(),
        "random": random.random(),
        "randint": random.randint(0, 10**12),
        "uuid": str(uuid.uuid4()),
    }
    reprise.http.post(job["url"], json=values).raise_for_status()
    return values


@reprise.function
def nap(job):
    """Sleeps `job["seconds"]` durably and says how long it slept, by its journaled clock."""
    started = reprise.now()
    reprise.sleep(job["seconds"])
    return {"slept": reprise.now() - started}


@reprise.function
def square(n):
    return n * n


@reprise.function
def fan_out(n):
    """Squares 0..n-1 in children."""
    return reprise.gather([reprise.dispatch("square", i) for i in range(n)])


@reprise.function
def wait_signal(job):
    """Waits for signal `job["name"]` at most `job["timeout"]` seconds."""
    return {"got": reprise.await_signal(job["name"], timeout=job.get("timeout"))}


@reprise.function
def fail(job):
    if job.get("retryable"):
        raise reprise.RetryableError("try again")
    raise reprise.Error("no such user")


@reprise.function
def crash(job):
    return {}["missing"]
