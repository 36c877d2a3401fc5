/** Operator config from GET /app/config.json (the neutral exit URL), with safe defaults. */
import { safeExitUrl } from './leave.js';

export const DEFAULT_EXIT_URL = 'https://www.bbc.co.uk/weather';

/** @type {{exitUrl: string}} */
export const config = { exitUrl: DEFAULT_EXIT_URL };

export async function loadConfig() {
  try {
    const response = await fetch('/app/config.json', { cache: 'no-store', credentials: 'omit' });
    if (response.ok) {
      const body = await response.json();
      config.exitUrl = safeExitUrl(body.exit_url, location.origin, DEFAULT_EXIT_URL);
    }
  } catch {
    // Without config the default neutral site is used; the app still opens.
  }
  return config;
}
