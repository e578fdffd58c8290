/** The component's exports: the `guest` interface over a set of named functions. */

import { FunctionError } from "./errors.js";
import * as json from "./json.js";

/** A call error the host reads: the message, and whether to run the function again. */
function failure(message, retryable = false) {
  return { message, retryable };
}

/** What a thrown value says: its message for a FunctionError, its stack for a bug. */
function thrown(err) {
  if (err instanceof FunctionError) {
    return failure(err.message, err.retryable);
  }
  if (err instanceof Error) {
    return failure(err.stack ? `${err}\n${err.stack}`.trim() : String(err));
  }
  return failure(`uncaught ${JSON.stringify(err) ?? String(err)}`);
}

/** The output bytes of a function's result. */
function output(result) {
  try {
    return json.encode(result);
  } catch (err) {
    throw failure(`the output is not JSON-encodable: ${err.message}`);
  }
}

/**
 * The `guest` export for `fns`, an object of functions (each takes one JSON-decoded argument
 * and returns a JSON-encodable result, or a Promise of one): `export const guest = functions({...})`.
 */
export function functions(fns) {
  const table = new Map(Object.entries(fns));
  for (const [name, fn] of table) {
    if (typeof fn !== "function") {
      throw new TypeError(`\`${name}\` is not a function`);
    }
  }
  return {
    functions() {
      return [...table.keys()];
    },
    call(name, input) {
      const fn = table.get(name);
      if (fn === undefined) {
        throw failure(`no function \`${name}\` in this component`);
      }
      let argument;
      try {
        argument = json.decode(input);
      } catch (err) {
        throw failure(`the input is not JSON: ${err.message}`);
      }
      let result;
      try {
        result = fn(argument);
      } catch (err) {
        throw thrown(err);
      }
      if (result instanceof Promise) {
        return result.then(output, (err) => {
          throw thrown(err);
        });
      }
      return output(result);
    },
  };
}
