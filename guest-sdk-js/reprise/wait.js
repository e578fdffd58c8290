/** Durable waits: sleeps, children and signals, all through the host's journaled `wait-for`. */

import { dispatch as start, invocationId as id, now as hostNow, waitFor } from "reprise:function/host@0.1.0";
import { FunctionError } from "./errors.js";
import * as json from "./json.js";

/** The wall-clock time in milliseconds since the Unix epoch (journaled, like `Date.now()`). */
export function now() {
  const t = hostNow();
  return Number(t.seconds) * 1000 + t.nanoseconds / 1e6;
}

/** The id of the running invocation. */
export function invocationId() {
  return id();
}

/** A host timestamp for `ms` milliseconds since the epoch. */
function timestamp(ms) {
  const whole = Math.floor(ms / 1000);
  return { seconds: BigInt(whole), nanoseconds: Math.floor((ms - whole * 1000) * 1e6) };
}

/**
 * Waits until wall-clock time `when` (a Date, or milliseconds since the epoch), durably: a long
 * sleep suspends the invocation and survives host restarts; a replay does not wait again.
 */
export function sleepUntil(when) {
  waitFor([{ tag: "timer", val: timestamp(Number(when)) }], "all");
}

/** Waits `seconds`, durably (see sleepUntil). */
export function sleep(seconds) {
  sleepUntil(now() + seconds * 1000);
}

/** A child invocation started by dispatch. */
export class Handle {
  constructor(id) {
    this.id = id;
  }

  /** Waits for the child and returns its output (throws FunctionError if it failed). */
  result() {
    return gather([this])[0];
  }
}

/**
 * Starts a child invocation of `fn` (of this component, or `deployment.function`) with JSON
 * `input`; a replay never starts it twice. Option: `detached` (not cancelled with its parent).
 */
export function dispatch(fn, input = null, options = {}) {
  try {
    return new Handle(start(fn, json.encode(input), options.detached ?? false));
  } catch (err) {
    throw new FunctionError(`cannot start \`${fn}\`: ${err.payload ?? err}`);
  }
}

/** Waits for every child and returns their outputs in order; throws naming the first that failed. */
export function gather(handles) {
  if (handles.length === 0) {
    return [];
  }
  const settled = waitFor(handles.map((h) => ({ tag: "child", val: h.id })), "all");
  return handles.map((handle, i) => {
    const outcome = settled[i];
    if (outcome === undefined) {
      throw new FunctionError(`child ${handle.id} did not finish`);
    }
    if (outcome.tag === "err") {
      throw new FunctionError(`child ${handle.id} failed: ${outcome.val}`);
    }
    return json.decode(outcome.val);
  });
}

/**
 * Waits for the next signal `name` sent to this invocation and returns its JSON payload; with
 * option `timeout` (seconds), returns undefined if it has not come by then.
 */
export function awaitSignal(name, options = {}) {
  const items = [{ tag: "signal", val: name }];
  if (options.timeout !== undefined) {
    items.push({ tag: "timer", val: timestamp(now() + options.timeout * 1000) });
  }
  const signal = waitFor(items, "race")[0];
  if (signal === undefined) {
    return undefined;
  }
  if (signal.tag === "err") {
    throw new FunctionError(`signal \`${name}\`: ${signal.val}`);
  }
  return json.decode(signal.val);
}
