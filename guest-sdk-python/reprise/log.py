"""The invocation's log: journaled lines, never repeated by a replay."""

from wit_world.imports import host, types


def _log(level, message):
    host.log(level, str(message))


def trace(message):
    """Logs `message` at level trace."""
    _log(types.LogLevel.TRACE, message)


def debug(message):
    """Logs `message` at level debug."""
    _log(types.LogLevel.DEBUG, message)


def info(message):
    """Logs `message` at level info."""
    _log(types.LogLevel.INFO, message)


def warn(message):
    """Logs `message` at level warn."""
    _log(types.LogLevel.WARN, message)


def error(message):
    """Logs `message` at level error."""
    _log(types.LogLevel.ERROR, message)
