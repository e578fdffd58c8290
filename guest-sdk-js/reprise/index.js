/**
 * Write durable Reprise functions in JavaScript.
 *
 * A module built with componentize-js (`componentize-js app.js --wit WIT -n function -o
 * app.wasm`) becomes a Reprise function component when it exports the SDK's `guest` over its
 * functions:
 *
 *     import * as reprise from "./reprise/index.js";
 *
 *     export const guest = reprise.functions({
 *       hello(user) {
 *         reprise.log.info(`greeting ${user.name}`);
 *         return { greeting: `Hello, ${user.name}!` };
 *       },
 *     });
 *
 * Every call to the outside world goes through the host, which journals its outcome before the
 * function sees it: `http`, `sleep`, `dispatch` and `gather`, `awaitSignal`, and also the
 * engine's own `Date.now()`, `Math.random()`, `crypto.getRandomValues()` and `fetch()` (they use
 * WASI clocks, randomness and wasi:http, which the host journals). After a crash the host
 * replays the journal, so the function reaches the same point without repeating a completed
 * step.
 */

export * as http from "./http.js";
export * as log from "./log.js";
export { FunctionError, FunctionError as Error, RetryableError } from "./errors.js";
export { functions } from "./guest.js";
export { Handle, awaitSignal, dispatch, gather, invocationId, now, sleep, sleepUntil } from "./wait.js";
