/** The app shell: skip links, Leave quickly (button and Shift×3) on every screen, navigation,
 * the polite live region, and which screen shows. Routes live in memory only, so the app adds
 * no history entries and Leave quickly's location.replace leaves nothing to go Back to. */
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { html } from './html.js';
import { t, setLanguage, language, LANGUAGES } from './i18n/index.js';
import { config } from './config.js';
import { shiftTracker, leaveNow } from './leave.js';
import * as session from './session.js';
import { SignIn, Register } from './views/auth.js';
import { ConversationList } from './views/list.js';
import { Chat } from './views/chat.js';
import { SafetyNumber } from './views/safety.js';
import { Settings } from './views/settings.js';
import { CoachTools } from './views/coach.js';
import { Agreement } from './views/agreement.js';
import { RestoreHistory, LinkPrompts, restoreOffered } from './views/history.js';
import { ChatNotes } from './notes.js';
import { onOpenRequest } from './push.js';

/** @typedef {{name: string, id?: string, conv?: import('./session.js').Conversation}} Route */

export function App() {
  const [client, setClient] = useState(/** @type {any} */ (null));
  const [phase, setPhase] = useState(/** @type {'loading' | 'out' | 'in'} */ ('loading'));
  const [route, setRoute] = useState(/** @type {Route} */ ({ name: 'signin' }));
  const [announcement, setAnnouncement] = useState('');
  const [progress, setProgress] = useState(0);
  const [lang, setLang] = useState(language());
  const [notice, setNotice] = useState('');
  const [visit, setVisit] = useState(0);
  const [notes, setNotes] = useState(/** @type {ChatNotes | null} */ (null));
  const clientRef = useRef(/** @type {any} */ (null));
  clientRef.current = client;

  const leave = useCallback(() => {
    leaveNow(config.exitUrl, () => {
      try {
        clientRef.current?.forget?.();
        clientRef.current?.disconnect?.();
      } catch {
        // Leaving goes on whatever the client does.
      }
    });
  }, []);

  useEffect(() => {
    const tracker = shiftTracker();
    /** @param {KeyboardEvent} event */
    const onKey = (event) => {
      const { progress: count, leave: go } = tracker.press(event, Date.now());
      if (event.key === 'Shift') setProgress(go ? 3 : count);
      if (go) leave();
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [leave]);

  useEffect(() => {
    if (!progress || progress >= 3) return undefined;
    const timer = setTimeout(() => setProgress(0), 5000);
    return () => clearTimeout(timer);
  }, [progress]);

  useEffect(() => {
    if (phase !== 'in' || route.name === 'agreement') return undefined;
    return onOpenRequest((id) => setRoute({ name: 'chat', id })); // a notification was clicked
  }, [phase, route.name === 'agreement']);

  useEffect(() => {
    session
      .resume()
      .then((kept) => enter(kept))
      .catch(() => enter(null));
  }, []);

  /** @param {any} kept @param {boolean} [fresh] a sign-in (not a resume): offer to restore history */
  async function enter(kept, fresh = false) {
    if (!kept) {
      setPhase('out');
      setRoute({ name: 'signin' });
      return;
    }
    const needsAgreement = await agreementPending(kept);
    const restore = !needsAgreement && fresh && (await restoreOffered(kept));
    setNotes(new ChatNotes(kept, session.person(kept.account).accountId));
    setClient(kept);
    setRoute(needsAgreement ? { name: 'agreement' } : restore ? { name: 'restore' } : { name: 'list' });
    setPhase('in');
    let passwordReset = false;
    kept.on('account', (/** @type {{event: string, accountId: string | null}} */ e) => {
      const own = session.person(kept.account).accountId;
      if (e.event === 'password_reset' && (!e.accountId || e.accountId === own)) passwordReset = true;
    });
    kept.on('signed_out', () => {
      if (clientRef.current !== kept) return;
      // The reset's `account` frame comes just before the socket closes: read the flag last.
      session.signOut(null).finally(() => finish(passwordReset ? 'notice.passwordReset' : 'notice.signedOutElsewhere'));
    });
    try {
      kept.connect();
    } catch {
      // The SDK reconnects by itself; the chat shows the connection state.
    }
  }

  async function signOut() {
    await session.signOut(client);
    finish('');
  }

  /** Back to the sign-in screen with nothing of the session left in this tab. @param {string} key */
  function finish(key) {
    clientRef.current = null;
    setClient(null);
    setNotes(null);
    setPhase('out');
    setRoute({ name: 'signin' });
    setNotice(key ? t(key) : '');
  }

  async function eraseDevice() {
    await session.panic(client).catch(() => undefined);
    leave();
  }

  /** @param {Event} event */
  function changeLanguage(event) {
    const chosen = setLanguage(/** @type {HTMLSelectElement} */ (event.target).value);
    try {
      localStorage.setItem('haven.lang', chosen);
    } catch {
      // Without storage the choice lasts for this page.
    }
    setLang(chosen);
  }

  /** @param {Route} next */
  const go = (next) => {
    setNotice('');
    setVisit((n) => n + 1);
    setRoute(next);
  };
  const me = client ? session.person(client.account) : null;
  const ctx = { client, me, go, announce: setAnnouncement, signOut, eraseDevice, lang, notes, finish };

  return html`
    <span id="top" tabindex="-1"></span>
    <a class="skip" href="#main">${t('skip.main')}</a>
    <a class="skip" href=${config.exitUrl} onClick=${(/** @type {Event} */ e) => (e.preventDefault(), leave())}
      >${t('skip.leave')}</a
    >
    <header class="top">
      <div class="leave-box">
        <button type="button" class="leave" onClick=${leave}>${t('leave.button')}</button>
        <small>${t('leave.hint')}</small>
        <span class="dots" aria-hidden="true">
          ${[1, 2, 3].map((n) => html`<span class=${progress >= n ? 'on' : ''}></span>`)}
        </span>
      </div>
      <p class="brand">${t('app.name')}</p>
      ${
        phase === 'in' &&
        html`<nav class="main" aria-label=${t('nav.label')}>
          <ul>
            <li>
              <button type="button" class="link" onClick=${() => go({ name: 'list' })}>
                ${t('nav.conversations')}
              </button>
            </li>
            ${
              me?.role === 'coach' &&
              html`<li>
                <button type="button" class="link" onClick=${() => go({ name: 'coach' })}>${t('nav.coach')}</button>
              </li>`
            }
            <li>
              <button type="button" class="link" onClick=${() => go({ name: 'settings' })}>${t('nav.settings')}</button>
            </li>
            <li><button type="button" class="link" onClick=${signOut}>${t('nav.signOut')}</button></li>
          </ul>
        </nav>`
      }
    </header>
    <div class="visually-hidden" aria-live="polite">${announcement}</div>
    <div class="visually-hidden" aria-live="polite">
      ${progress > 0 && progress < 3 ? t('leave.progress', { count: progress }) : ''}
    </div>
    <main id="main" tabindex="-1">
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${phase === 'in' && client && html`<${LinkPrompts} key=${me?.accountId} client=${client} me=${me} />`}
      <div key=${visit}>${screen(phase, route, ctx, enter)}</div>
    </main>
    <footer class="lang">
      <label for="lang">${t('lang.label')}</label>
      <select id="lang" value=${lang} onChange=${changeLanguage}>
        ${LANGUAGES.map(([code, name]) => html`<option value=${code} lang=${code}>${name}</option>`)}
      </select>
    </footer>
  `;
}

/**
 * @param {string} phase
 * @param {Route} route
 * @param {any} ctx
 * @param {(client: any, fresh?: boolean) => Promise<void>} enter
 */
function screen(phase, route, ctx, enter) {
  if (phase === 'loading') return html`<p>${t('loading')}</p>`;
  if (phase === 'out') {
    return route.name === 'register'
      ? html`<${Register} onDone=${enter} go=${ctx.go} />`
      : html`<${SignIn} onDone=${(/** @type {any} */ c) => enter(c, true)} go=${ctx.go} />`;
  }
  switch (route.name) {
    case 'agreement':
      return html`<${Agreement} ...${ctx} />`;
    case 'restore':
      return html`<${RestoreHistory} ...${ctx} />`;
    case 'chat':
      return html`<${Chat} key=${route.id} id=${route.id ?? ''} opened=${route.conv} ...${ctx} />`;
    case 'safety':
      return html`<${SafetyNumber} key=${route.id} id=${route.id ?? ''} ...${ctx} />`;
    case 'settings':
      return html`<${Settings} id=${route.id} ...${ctx} />`;
    case 'coach':
      return html`<${CoachTools} ...${ctx} />`;
    default:
      return html`<${ConversationList} ...${ctx} />`;
  }
}

/**
 * Whether a client must read and accept the agreement before the list.
 * @param {any} client
 */
async function agreementPending(client) {
  const role = session.person(client.account).role;
  if (role !== 'client') return false;
  try {
    const agreement = await client.agreement();
    return Boolean(agreement && agreement.text && !agreement.accepted);
  } catch {
    return false;
  }
}
