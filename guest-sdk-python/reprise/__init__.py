"""Write durable Reprise functions in Python.

A module built with componentize-py (``componentize-py -d WIT -w function componentize
-p PATH-TO-THIS-SDK app -o app.wasm``) becomes a Reprise function component when it
defines its functions with :func:`function` and exports the SDK's ``Guest``::

    import reprise
    from reprise import Guest  # the component's exports

    @reprise.function
    def hello(user):
        reprise.log.info(f"greeting {user['name']}")
        return {"greeting": f"Hello, {user['name']}!"}

Every call to the outside world goes through the host, which journals its outcome before the
function sees it: :mod:`reprise.http`, :func:`sleep`, :func:`dispatch` and :func:`gather`,
:func:`await_signal`, and also Python's own ``time.time()``, ``random`` and ``uuid.uuid4()``
(they read WASI clocks and randomness, which the host journals). After a crash the host replays
the journal, so the function reaches the same point without repeating a completed step.
"""

from . import http, log
from ._errors import Error, RetryableError
from ._guest import Guest, function
from ._wait import (
    Handle,
    await_signal,
    dispatch,
    gather,
    invocation_id,
    now,
    sleep,
    sleep_until,
)

__all__ = [
    "Error",
    "Guest",
    "Handle",
    "RetryableError",
    "await_signal",
    "dispatch",
    "function",
    "gather",
    "http",
    "invocation_id",
    "log",
    "now",
    "sleep",
    "sleep_until",
]
