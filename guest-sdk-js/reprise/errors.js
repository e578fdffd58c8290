/** Errors a function throws to fail its invocation. */

/** Fails the invocation with this message; the host does not run it again. */
export class FunctionError extends Error {
  constructor(message) {
    super(message);
    this.name = "FunctionError";
  }

  /** Whether the host runs the function again (by replay) under its retry policy. */
  get retryable() {
    return false;
  }
}

/** Fails this run; the host runs the function again (by replay) under its retry policy. */
export class RetryableError extends FunctionError {
  constructor(message) {
    super(message);
    this.name = "RetryableError";
  }

  get retryable() {
    return true;
  }
}
