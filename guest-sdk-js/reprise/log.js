/** The invocation's log: journaled lines, never repeated by a replay. */

import { log } from "reprise:function/host@0.1.0";

const line = (level) => (message) => log(level, String(message));

/** Logs `message` at level trace. */
export const trace = line("trace");
/** Logs `message` at level debug. */
export const debug = line("debug");
/** Logs `message` at level info. */
export const info = line("info");
/** Logs `message` at level warn. */
export const warn = line("warn");
/** Logs `message` at level error. */
export const error = line("error");
