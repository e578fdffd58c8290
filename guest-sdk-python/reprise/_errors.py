"""Errors a function raises to fail its invocation."""


class Error(Exception):
    """Fails the invocation with this message; the host does not run it again."""

    retryable = False


class RetryableError(Error):
    """Fails this run; the host runs the function again (by replay) under its retry policy."""

    retryable = True
