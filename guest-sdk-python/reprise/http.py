"""Outgoing HTTP, journaled: a request whose response is recorded is never sent again, and
carries an `Idempotency-Key` the host adds."""

import json as _json

from componentize_py_types import Err
from wit_world.imports import host, types

from ._errors import Error, RetryableError


class HttpError(Error):
    """No response: the request was invalid, or connecting or exchanging it failed."""


class Response:
    """A response: `status`, `headers` (a list of pairs), `body` (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body decoded as JSON."""
        return _json.loads(self.body)

    def header(self, name):
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def raise_for_status(self):
        """Raises for a 4xx or 5xx answer: RetryableError for 429 and 5xx (the host runs the
        function again), Error otherwise; returns the response when it succeeded."""
        if self.status >= 400:
            kind = RetryableError if self.status == 429 or self.status >= 500 else Error
            raise kind(f"HTTP {self.status}: {self.text[:200]}")
        return self


def request(method, url, *, headers=None, json=None, body=b"", bearer=None, timeout_ms=None):
    """Sends a request; returns its Response or raises HttpError."""
    pairs = list((headers or {}).items())
    if json is not None:
        body = _json.dumps(json).encode()
        pairs.append(("content-type", "application/json"))
    if bearer is not None:
        pairs.append(("authorization", f"Bearer {bearer}"))
    if isinstance(body, str):
        body = body.encode()
    outgoing = types.HttpRequest(
        method=method, url=url, headers=pairs, body=bytes(body), timeout_ms=timeout_ms
    )
    try:
        answer = host.http_send(outgoing)
    except Err as err:
        raise HttpError(_describe(err.value)) from None
    return Response(answer.status, answer.headers, answer.body)


def _describe(error):
    name = type(error).__name__.removeprefix("HttpError_")
    value = getattr(error, "value", None)
    return name if value is None else f"{name}: {value}"


def get(url, **options):
    """Sends a GET."""
    return request("GET", url, **options)


def post(url, **options):
    """Sends a POST."""
    return request("POST", url, **options)


def put(url, **options):
    """Sends a PUT."""
    return request("PUT", url, **options)


def delete(url, **options):
    """Sends a DELETE."""
    return request("DELETE", url, **options)
