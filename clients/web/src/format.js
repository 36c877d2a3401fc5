/** Pure formatting: safety-number groups, typed-digit comparison, dates and times for the chat. */

/**
 * Digits only, so "12345 67890" and "1234567890" compare equal.
 * @param {string} text
 */
export function digitsOf(text) {
  return String(text).replace(/\D/g, '');
}

/**
 * Groups of five digits, easy to read aloud.
 * @param {string} number
 * @returns {string[]}
 */
export function groupDigits(number) {
  const digits = digitsOf(number);
  /** @type {string[]} */
  const groups = [];
  for (let i = 0; i < digits.length; i += 5) groups.push(digits.slice(i, i + 5));
  return groups;
}

/**
 * Each side's 30 digits of a combined safety number. The SDK orders the halves by account id,
 * so `mineFirst` says whether this account's id sorts first.
 * @param {string} number
 * @param {boolean} mineFirst
 * @returns {{yours: string[], theirs: string[]}}
 */
export function splitSafetyNumber(number, mineFirst = true) {
  const groups = groupDigits(number);
  const half = Math.ceil(groups.length / 2);
  const [first, second] = [groups.slice(0, half), groups.slice(half)];
  return mineFirst ? { yours: first, theirs: second } : { yours: second, theirs: first };
}

/**
 * Whether typed digits match the safety number; 'short' when too few digits were typed.
 * @param {string} typed
 * @param {string | {yours: string, theirs: string}} number
 * @returns {'match' | 'mismatch' | 'short'}
 */
export function compareDigits(typed, number) {
  const got = digitsOf(typed);
  const orders =
    typeof number === 'string'
      ? [digitsOf(number)]
      : [digitsOf(number.yours + number.theirs), digitsOf(number.theirs + number.yours)];
  if (orders.includes(got)) return 'match';
  return got.length < orders[0].length ? 'short' : 'mismatch';
}

/**
 * A time of day in the reader's language.
 * @param {string | number | Date} when
 * @param {string} lang
 */
export function timeOfDay(when, lang) {
  const date = when instanceof Date ? when : new Date(when);
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' }).format(date);
}

/**
 * A day and time, e.g. for "next opening".
 * @param {string | number | Date} when
 * @param {string} lang
 * @param {string} [timeZone]
 */
export function dayAndTime(when, lang, timeZone) {
  const date = when instanceof Date ? when : new Date(when);
  if (Number.isNaN(date.getTime())) return '';
  /** @type {Intl.DateTimeFormatOptions} */
  const options = { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' };
  if (timeZone) options.timeZone = timeZone;
  return new Intl.DateTimeFormat(lang, options).format(date);
}

/**
 * A calendar day such as a pause's resume date ("2026-12-01").
 * @param {string | null | undefined} day
 * @param {string} lang
 */
export function calendarDay(day, lang) {
  if (!day) return '';
  const date = new Date(`${day}T12:00:00Z`);
  if (Number.isNaN(date.getTime())) return day;
  return new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
    date,
  );
}
