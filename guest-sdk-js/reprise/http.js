/**
 * Outgoing HTTP, journaled: a request whose response is recorded is never sent again, and
 * carries an `Idempotency-Key` the host adds. (The standard `fetch` is journaled the same way.)
 */

import { httpSend } from "reprise:function/host@0.1.0";
import { FunctionError, RetryableError } from "./errors.js";
import * as json from "./json.js";

/** No response: the request was invalid, or connecting or exchanging it failed. */
export class HttpError extends FunctionError {
  constructor(message) {
    super(message);
    this.name = "HttpError";
  }
}

/** A response: `status`, `headers` (a list of [name, value] pairs), `body` (bytes). */
export class Response {
  constructor(status, headers, body) {
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /** The body as UTF-8 text. */
  text() {
    return json.text(this.body);
  }

  /** The body decoded as JSON. */
  json() {
    return JSON.parse(this.text());
  }

  /** The first value of header `name` (any case), or undefined. */
  header(name) {
    const wanted = name.toLowerCase();
    return this.headers.find(([key]) => key.toLowerCase() === wanted)?.[1];
  }

  /**
   * Throws for a 4xx or 5xx answer: RetryableError for 429 and 5xx (the host runs the function
   * again), FunctionError otherwise; returns the response when it succeeded.
   */
  raiseForStatus() {
    if (this.status >= 400) {
      const Kind = this.status === 429 || this.status >= 500 ? RetryableError : FunctionError;
      throw new Kind(`HTTP ${this.status}: ${this.text().slice(0, 200)}`);
    }
    return this;
  }
}

/**
 * Sends a request; returns its Response or throws HttpError. Options: `headers` (an object),
 * `json` (a value sent as JSON), `body` (a string or bytes), `bearer` (a token), `timeoutMs`.
 */
export function request(method, url, options = {}) {
  const headers = Object.entries(options.headers ?? {});
  let body = options.body ?? new Uint8Array();
  if (options.json !== undefined) {
    body = json.encode(options.json);
    headers.push(["content-type", "application/json"]);
  }
  if (options.bearer !== undefined) {
    headers.push(["authorization", `Bearer ${options.bearer}`]);
  }
  if (typeof body === "string") {
    body = json.bytes(body);
  }
  let answer;
  try {
    answer = httpSend({ method, url, headers, body, timeoutMs: options.timeoutMs });
  } catch (err) {
    throw new HttpError(describe(err.payload ?? err));
  }
  return new Response(answer.status, answer.headers, answer.body);
}

/** A host's http-error as text, e.g. `connect: connection refused`. */
function describe(error) {
  if (error?.tag === undefined) {
    return String(error);
  }
  return error.val === undefined ? error.tag : `${error.tag}: ${error.val}`;
}

/** Sends a GET. */
export const get = (url, options) => request("GET", url, options);
/** Sends a POST. */
export const post = (url, options) => request("POST", url, options);
/** Sends a PUT. */
export const put = (url, options) => request("PUT", url, options);
/** Sends a DELETE. */
export const del = (url, options) => request("DELETE", url, options);
