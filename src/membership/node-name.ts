/**
 * The one definition of a node name, shared by the agent's configuration (`name`) and every
 * membership record that carries a name on the wire (SWIM alive records).
 *
 * Names are printed in tables, logs and metric labels, so they are restricted to characters that
 * print as themselves: a name with escape sequences or a newline could forge a row of `cairn
 * members`' table or a log line. A record with any other name is refused when it is decoded.
 */

/** Longest node name: names appear in logs, metrics labels and membership state. */
export const NODE_NAME_MAX_LENGTH = 128;

/** A node name: A-Z a-z 0-9 . _ - starting with a letter or digit, at most {@link NODE_NAME_MAX_LENGTH}. */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The rule in words, for error messages. */
export const NODE_NAME_EXPECTED = `a name of 1-${NODE_NAME_MAX_LENGTH} characters from A-Z a-z 0-9 . _ - starting with a letter or digit`;

/**
 * True when `text` is a valid node name.
 *
 * @example
 * ```ts
 * isNodeName('node-1'); // true
 * isNodeName('evil\u001b[2J\n'); // false
 * ```
 */
export function isNodeName(text: unknown): text is string {
  return typeof text === 'string' && text.length <= NODE_NAME_MAX_LENGTH && NODE_NAME_PATTERN.test(text);
}
