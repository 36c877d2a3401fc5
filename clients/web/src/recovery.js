/** The recovery key as the screens handle it: its groups of four, and the "type part of it back"
 * check that makes turning backup on count only once the person has the key. */

/**
 * @param {string} text the key as shown (groups separated by spaces)
 * @returns {string[]}
 */
export function groupsOf(text) {
  return text.trim().split(/\s+/).filter(Boolean);
}

/**
 * Two different group positions (1-based, ascending) to ask for.
 * @param {number} count how many groups the key has
 * @param {() => number} [random] in [0, 1)
 * @returns {[number, number]}
 */
export function pickGroups(count, random = Math.random) {
  const first = Math.floor(random() * count);
  let second = Math.floor(random() * (count - 1));
  if (second >= first) second += 1;
  const [a, b] = [first, second].sort((x, y) => x - y);
  return [a + 1, b + 1];
}

/**
 * Whether the typed groups are the key's groups at those positions (spaces around ignored, case kept:
 * base58 tells upper from lower case).
 * @param {string} text @param {number[]} positions 1-based @param {string[]} typed
 */
export function groupsMatch(text, positions, typed) {
  const groups = groupsOf(text);
  return positions.every((p, i) => (typed[i] ?? '').replace(/\s+/g, '') === groups[p - 1]);
}
