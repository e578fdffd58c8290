"""Durable waits: sleeps, children and signals, all through the host's journaled `wait-for`."""

import json

from componentize_py_types import Err
from wit_world.imports import host, types

from ._errors import Error


def now():
    """The wall-clock time in seconds since the Unix epoch (journaled)."""
    t = host.now()
    return t.seconds + t.nanoseconds / 1e9


def invocation_id():
    """The id of the running invocation."""
    return host.invocation_id()


def _timestamp(seconds):
    whole = int(seconds)
    return types.Timestamp(seconds=whole, nanoseconds=int((seconds - whole) * 1e9))


def sleep_until(when):
    """Waits until wall-clock time `when` (seconds since the epoch), durably: a long sleep
    suspends the invocation and survives host restarts; a replay does not wait again."""
    host.wait_for([types.Awaitable_Timer(_timestamp(when))], types.AwaitMode.ALL)


def sleep(seconds):
    """Waits `seconds`, durably (see sleep_until)."""
    sleep_until(now() + seconds)


class Handle:
    """A child invocation started by dispatch."""

    def __init__(self, id):
        self.id = id

    def result(self):
        """Waits for the child and returns its output (raises Error if it failed)."""
        return gather([self])[0]


def dispatch(function, input=None, *, detached=False):
    """Starts a child invocation of `function` (of this component, or `deployment.function`)
    with JSON `input`; a replay never starts it twice."""
    try:
        return Handle(host.dispatch(function, json.dumps(input).encode(), detached))
    except Err as err:
        raise Error(f"cannot start `{function}`: {err.value}") from None


def gather(handles):
    """Waits for every child and returns their outputs in order; raises Error naming the first
    that failed."""
    if not handles:
        return []
    items = [types.Awaitable_Child(h.id) for h in handles]
    settled = host.wait_for(items, types.AwaitMode.ALL)
    outputs = []
    for handle, outcome in zip(handles, settled):
        if outcome is None:
            raise Error(f"child {handle.id} did not finish")
        if isinstance(outcome, Err):
            raise Error(f"child {handle.id} failed: {outcome.value}")
        outputs.append(json.loads(outcome.value))
    return outputs


def await_signal(name, timeout=None):
    """Waits for the next signal `name` sent to this invocation and returns its JSON payload;
    with `timeout` (seconds), returns None if it has not come by then."""
    items = [types.Awaitable_Signal(name)]
    if timeout is not None:
        items.append(types.Awaitable_Timer(_timestamp(now() + timeout)))
    settled = host.wait_for(items, types.AwaitMode.RACE)
    signal = settled[0]
    if signal is None:
        return None
    if isinstance(signal, Err):
        raise Error(f"signal `{name}`: {signal.value}")
    return json.loads(signal.value) if signal.value else None
