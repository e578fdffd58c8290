/** JSON in and out of the bytes the host passes. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `value` as JSON bytes. */
export function encode(value) {
  return encoder.encode(JSON.stringify(value ?? null));
}

/** The value JSON bytes hold (`null` for none). */
export function decode(bytes) {
  return bytes.length ? JSON.parse(decoder.decode(bytes)) : null;
}

/** Bytes as UTF-8 text. */
export function text(bytes) {
  return decoder.decode(bytes);
}

/** Text as UTF-8 bytes. */
export function bytes(text) {
  return encoder.encode(text);
}
