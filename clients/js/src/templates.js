/** Neutral reasons a coach may give when pausing (API.md: "the SDK offers neutral templates"); the same as the Python SDK's. */

/** @type {Readonly<Record<string, string>>} */
export const PAUSE_TEMPLATES = Object.freeze({
  time_off: "I'm taking some time off. I'll be back in touch when I return.",
  capacity: "I need to pause our messages for a while. I'll reach out when we can resume.",
  between_sessions: "Let's hold our messages until our next session. See you then.",
  check_in: "I'm pausing our messages for now. Let's talk about next steps when we meet.",
});
