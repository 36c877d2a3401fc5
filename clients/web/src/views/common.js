/** Pieces every screen uses: the page title and focus, the crisis box, and calm error lines. */
import { useEffect, useRef } from 'preact/hooks';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { crisis } from '../session.js';

/**
 * Sets the document title when a screen opens and puts the keyboard back at the top of the
 * page, as a new page would: the next Tab reaches the skip link, then Leave quickly.
 * @param {string} title
 */
export function usePage(title) {
  const heading = useRef(/** @type {HTMLHeadingElement | null} */ (null));
  useEffect(() => {
    document.title = title;
  }, [title]);
  useEffect(() => {
    document.getElementById('top')?.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }, []);
  return heading;
}

/**
 * The crisis resources as an offer, in calm colours; the emergency line is kept for danger.
 * @param {{list?: import('../session.js').Resource[], lead?: string}} props
 */
export function CrisisBox({ list, lead }) {
  const items = list && list.length ? list : crisis.list;
  return html`<section class="crisis" aria-label=${t('chat.crisisIntro')}>
    ${lead && html`<p>${lead}</p>`}
    <p>${t('chat.crisisIntro')}</p>
    <ul>
      ${items.map(
        (r) => html`<li><strong>${r.name}</strong>: ${r.contact}${r.description ? html` – ${r.description}` : ''}</li>`,
      )}
    </ul>
  </section>`;
}

/**
 * The catalogue line for an SDK/API failure; server texts are never shown wrapped.
 * @param {any} error
 */
export function problemLine(error) {
  const code = error?.code ?? '';
  const status = error?.status ?? 0;
  if (code === 'rate_limited' || status === 429) return t('notice.tooManyTries');
  if (code === 'unauthorized' || status === 401) return t('notice.signInWrong');
  if (code === 'invite_invalid') return t('notice.inviteUnusable');
  if (code === 'conflict' && status === 409) return t('notice.handleTaken');
  if (status === 422) {
    const named = (error.fields ?? []).map((/** @type {any} */ f) => String(f.field ?? f.loc ?? ''));
    if (named.some((/** @type {string} */ f) => f.includes('password'))) return t('notice.passwordRule');
    if (named.some((/** @type {string} */ f) => f.includes('handle'))) return t('notice.handleRule');
    return t('notice.fieldsToFix');
  }
  if (error instanceof TypeError || code === 'unavailable') return t('notice.unreachable');
  return t('notice.somethingWrong');
}

/**
 * Saves a JSON value as a download.
 * @param {string} name
 * @param {unknown} value
 */
export function download(name, value) {
  const blob = new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
