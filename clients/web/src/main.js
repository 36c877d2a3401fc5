/** Haven Web's entry: config, language, the kept session if any, then the app. */
import { render } from 'preact';
import { html } from './html.js';
import { App } from './app.js';
import { loadConfig } from './config.js';
import { setLanguage, preferredLanguage } from './i18n/index.js';

setLanguage(preferredLanguage());
await loadConfig();
const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
