/** Sign in and register: the password rule before typing, "keep me signed in" off by default. */
import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import * as session from '../session.js';
import { usePage, problemLine } from './common.js';

/** @param {{checked: boolean, onChange: (value: boolean) => void}} props */
function KeepSignedIn({ checked, onChange }) {
  return html`<div class="check">
    <input
      id="keep"
      type="checkbox"
      checked=${checked}
      aria-describedby="keep-hint"
      onChange=${(/** @type {Event} */ e) => onChange(/** @type {HTMLInputElement} */ (e.target).checked)}
    />
    <label for="keep">${t('signin.keep')}</label>
    <p class="hint" id="keep-hint">${t('notice.keepHint')}</p>
  </div>`;
}

/** @param {{onDone: (client: any) => void, go: (route: {name: string}) => void}} props */
export function SignIn({ onDone, go }) {
  const heading = usePage(t('title.signIn'));
  const [keep, setKeep] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState('');

  /** @param {Event} event */
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
    setBusy(true);
    setProblem('');
    try {
      const client = await session.signIn({
        handle: String(form.get('handle') ?? '')
          .trim()
          .toLowerCase(),
        password: String(form.get('password') ?? ''),
        keep,
      });
      onDone(client);
    } catch (error) {
      setProblem(problemLine(error));
      setBusy(false);
    }
  }

  return html`<h1 tabindex="-1" ref=${heading}>${t('signin.heading')}</h1>
    <p>${t('signin.intro')}</p>
    <form class="stack" onSubmit=${submit}>
      ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
      <div>
        <label for="handle">${t('field.handle')}</label>
        <input id="handle" name="handle" type="text" autocomplete="username" autocapitalize="none" required />
      </div>
      <div>
        <label for="password">${t('field.password')}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
      </div>
      <${KeepSignedIn} checked=${keep} onChange=${setKeep} />
      <div><button type="submit" disabled=${busy}>${t('signin.submit')}</button></div>
      ${busy && html`<p role="status">${t('signin.busy')}</p>`}
    </form>
    <p>
      <button type="button" class="link" onClick=${() => go({ name: 'register' })}>${t('signin.toRegister')}</button>
    </p>`;
}

/** @param {{onDone: (client: any) => void, go: (route: {name: string}) => void}} props */
export function Register({ onDone, go }) {
  const heading = usePage(t('title.register'));
  const [keep, setKeep] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState('');

  /** @param {Event} event */
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
    setBusy(true);
    setProblem('');
    try {
      const client = await session.register({
        inviteCode: String(form.get('invite') ?? '').trim(),
        handle: String(form.get('handle') ?? '')
          .trim()
          .toLowerCase(),
        displayName: String(form.get('displayName') ?? '').trim(),
        password: String(form.get('password') ?? ''),
        keep,
      });
      onDone(client);
    } catch (error) {
      setProblem(problemLine(error));
      setBusy(false);
    }
  }

  return html`<h1 tabindex="-1" ref=${heading}>${t('register.heading')}</h1>
    <form class="stack" onSubmit=${submit}>
      ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
      <div>
        <label for="invite">${t('field.invite')}</label>
        <input id="invite" name="invite" type="text" autocomplete="off" autocapitalize="none" required />
      </div>
      <div>
        <label for="handle">${t('field.handle')}</label>
        <p class="hint" id="handle-hint">${t('notice.handleRule')}</p>
        <input
          id="handle"
          name="handle"
          type="text"
          autocomplete="username"
          autocapitalize="none"
          pattern="[a-z0-9_.\\-]{3,32}"
          aria-describedby="handle-hint"
          required
        />
      </div>
      <div>
        <label for="displayName">${t('field.displayName')}</label>
        <p class="hint" id="name-hint">${t('notice.displayNameRule')}</p>
        <input id="displayName" name="displayName" type="text" autocomplete="nickname" aria-describedby="name-hint" />
      </div>
      <div>
        <label for="password">${t('field.password')}</label>
        <p class="hint" id="password-hint">${t('notice.passwordRule')}</p>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="new-password"
          minlength="10"
          maxlength="256"
          aria-describedby="password-hint"
          required
        />
      </div>
      <${KeepSignedIn} checked=${keep} onChange=${setKeep} />
      <div><button type="submit" disabled=${busy}>${t('register.submit')}</button></div>
      ${busy && html`<p role="status">${t('register.busy')}</p>`}
    </form>
    <p>
      <button type="button" class="link" onClick=${() => go({ name: 'signin' })}>${t('register.toSignIn')}</button>
    </p>`;
}
