/**
 * Test functions in JavaScript: the engine's own clocks and randomness replay identically,
 * `fetch` is journaled, waits and children work, errors fail the invocation (built by
 * scripts/build-guests.sh as js_guests.wasm).
 */

import * as reprise from "../../guest-sdk-js/reprise/index.js";

export const guest = reprise.functions({
  /**
   * Reads Date.now(), Math.random() and crypto.getRandomValues, sends them to `url`, and
   * returns them: a replay must send and return the same values.
   */
  entropy({ url }) {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    const values = { now: Date.now(), random: Math.random(), bytes: Array.from(bytes) };
    reprise.http.post(url, { json: values }).raiseForStatus();
    return values;
  },

  /** Sends two requests with `fetch` and returns what each answered. */
  async fetch_twice({ url }) {
    const answers = [];
    for (const n of [1, 2]) {
      const response = await fetch(`${url}/${n}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ n }),
      });
      answers.push({ status: response.status, body: await response.text() });
    }
    return answers;
  },

  /** Sleeps `seconds` durably and says how long it slept, by its journaled clock. */
  nap({ seconds }) {
    const started = reprise.now();
    reprise.sleep(seconds);
    return { slept: (reprise.now() - started) / 1000 };
  },

  square(n) {
    return n * n;
  },

  /** Squares 0..n-1 in children. */
  fan_out(n) {
    return reprise.gather([...Array(n).keys()].map((i) => reprise.dispatch("square", i)));
  },

  /** Waits for signal `name` at most `timeout` seconds. */
  wait_signal({ name, timeout }) {
    return { got: reprise.awaitSignal(name, { timeout }) ?? null };
  },

  fail({ retryable }) {
    if (retryable) {
      throw new reprise.RetryableError("try again");
    }
    throw new reprise.Error("no such user");
  },

  crash() {
    return undefined.missing;
  },
});
