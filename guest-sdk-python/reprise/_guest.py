"""The component's exports: the registry of functions and the `guest` interface over it."""

import json
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.guest import CallError

from ._errors import Error

_FUNCTIONS = {}


def function(fn):
    """Makes `fn` (one JSON-decoded argument, a JSON-encodable result) a Reprise function
    named after it."""
    name = fn.__name__
    if name in _FUNCTIONS:
        raise ValueError(f"a function named `{name}` is already defined")
    _FUNCTIONS[name] = fn
    return fn


class Guest(exports.Guest):
    """`reprise:function/guest`: lists the functions and calls one on JSON input."""

    def functions(self):
        return list(_FUNCTIONS)

    def call(self, name, input):
        fn = _FUNCTIONS.get(name)
        if fn is None:
            raise Err(CallError(message=f"no function `{name}` in this component", retryable=False))
        try:
            argument = json.loads(input) if input else None
        except ValueError as err:
            raise Err(CallError(message=f"the input is not JSON: {err}", retryable=False))
        try:
            result = fn(argument)
        except Error as err:
            raise Err(CallError(message=str(err), retryable=err.retryable))
        except Exception as err:  # a bug in the function: its traceback is the message
            text = "".join(traceback.format_exception(err)).strip()
            raise Err(CallError(message=text, retryable=False))
        try:
            return json.dumps(result).encode()
        except (TypeError, ValueError) as err:
            raise Err(CallError(message=f"the output is not JSON-encodable: {err}", retryable=False))
