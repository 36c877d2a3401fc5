/** Safety numbers side by side, a "verified" toggle, and a calm answer when typed digits differ. */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { splitSafetyNumber, compareDigits } from '../format.js';
import { conversation } from '../session.js';
import { usePage } from './common.js';

/** @param {{client: any, me: import('../session.js').Person, id: string, go: Function}} props */
export function SafetyNumber({ client, me, id, go }) {
  const heading = usePage(t('title.safety'));
  const [name, setName] = useState('');
  const [number, setNumber] = useState(/** @type {any} */ (null));
  const [theirs, setTheirs] = useState('');
  const [verified, setVerified] = useState(false);
  const [unavailable, setUnavailable] = useState(false);
  const [result, setResult] = useState(/** @type {'match' | 'mismatch' | 'short' | ''} */ (''));

  useEffect(() => {
    client.conversations().then((/** @type {any[]} */ list) => {
      const found = list.map((c) => conversation(c, me.accountId)).find((c) => c.id === id);
      if (found) setName(found.counterpart.displayName);
    });
    client
      .safetyNumber(id)
      .then((/** @type {any} */ view) => {
        if (!view.digits) return setUnavailable(true);
        setNumber(view.digits);
        setTheirs(view.accountId ?? '');
        setVerified(Boolean(view.verified));
      })
      .catch(() => setUnavailable(true));
  }, [client, id]);

  /** @param {Event} event */
  async function toggle(event) {
    const on = /** @type {HTMLInputElement} */ (event.target).checked;
    await client.setVerified(id, on);
    setVerified(on);
  }

  /** @param {Event} event */
  function compare(event) {
    event.preventDefault();
    const typed = String(new FormData(/** @type {HTMLFormElement} */ (event.target)).get('typed') ?? '');
    setResult(compareDigits(typed, number));
  }

  const halves = number ? splitSafetyNumber(number, me.accountId < theirs) : null;
  return html`<h1 tabindex="-1" ref=${heading}>${t('safety.heading', { name })}</h1>
    <p>
      <button type="button" class="link" onClick=${() => go({ name: 'chat', id })}>
        ${t('safety.back', { name })}
      </button>
    </p>
    ${unavailable && html`<p class="notice">${t('notice.safetyUnavailable', { name })}</p>`}
    ${
      halves &&
      html`<p>${t('notice.safetyExplain', { name })}</p>
        <div class="safety-grid">
          <section aria-labelledby="sn-yours">
            <h2 id="sn-yours">${t('safety.yours')}</h2>
            <ol>
              ${halves.yours.map((g) => html`<li>${g}</li>`)}
            </ol>
          </section>
          <section aria-labelledby="sn-theirs">
            <h2 id="sn-theirs">${t('safety.theirs', { name })}</h2>
            <ol>
              ${halves.theirs.map((g) => html`<li>${g}</li>`)}
            </ol>
          </section>
        </div>
        <p class="check">
          <input id="verified" type="checkbox" role="switch" checked=${verified} onChange=${toggle} />
          <label for="verified">${t('safety.verified')}</label>
        </p>
        <form class="stack" onSubmit=${compare}>
          <div>
            <label for="typed">${t('safety.typed', { name })}</label>
            <input id="typed" name="typed" type="text" inputmode="numeric" autocomplete="off" />
          </div>
          <div><button type="submit">${t('safety.compare')}</button></div>
        </form>
        <div role="status">
          ${result === 'match' && html`<p class="notice">${t('notice.safetyMatch', { name })}</p>`}
          ${result === 'mismatch' && html`<p class="notice warn">${t('notice.safetyMismatch', { name })}</p>`}
          ${result === 'short' && html`<p class="notice">${t('notice.safetyShort')}</p>`}
        </div>`
    }`;
}
