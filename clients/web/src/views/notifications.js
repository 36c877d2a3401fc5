/** Settings → Notifications: Web Push on this device, only when the user turns it on. */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { pushSupported, pushEnabled, enablePush, disablePush } from '../push.js';

/** @param {{client: any, attempt: (action: () => Promise<unknown>, done: string) => Promise<void>}} props */
export function Notifications({ client, attempt }) {
  const [on, setOn] = useState(/** @type {boolean | null} */ (null));
  const [denied, setDenied] = useState(false);
  const supported = pushSupported();
  useEffect(() => {
    if (!supported) return;
    pushEnabled(client)
      .then(setOn)
      .catch(() => setOn(false));
  }, [client]);
  const turnOn = () =>
    attempt(async () => {
      const result = await enablePush(client);
      setDenied(result === 'denied'); // the hint below says how to allow them
      setOn(result === 'on');
    }, t('notifications.requested'));
  const turnOff = () =>
    attempt(async () => {
      await disablePush(client);
      setOn(false);
    }, t('notifications.turnedOff'));
  return html`<section class="card" aria-labelledby="notify-h">
    <h2 id="notify-h">${t('notifications.heading')}</h2>
    <p>${t('notifications.explain')}</p>
    ${!supported && html`<p class="hint">${t('notifications.unsupported')}</p>`}
    ${denied && html`<p class="notice warn">${t('notifications.denied')}</p>`}
    ${
      supported &&
      on !== null &&
      html`<p>
        ${
          on
            ? html`<button type="button" class="quiet" onClick=${turnOff}>${t('notifications.turnOff')}</button>`
            : html`<button type="button" onClick=${turnOn}>${t('notifications.turnOn')}</button>`
        }
      </p>`
    }
  </section>`;
}
