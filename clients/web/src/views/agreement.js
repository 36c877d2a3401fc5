/** The messaging agreement, read and accepted before a client's first message. */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { usePage, problemLine, CrisisBox } from './common.js';

/** @param {{client: any, go: (route: {name: string}) => void}} props */
export function Agreement({ client, go }) {
  const heading = usePage(t('title.agreement'));
  const [agreement, setAgreement] = useState(/** @type {{version: string, text: string} | null} */ (null));
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    client
      .agreement()
      .then(setAgreement)
      .catch((/** @type {unknown} */ e) => setProblem(problemLine(e)));
  }, [client]);

  async function accept() {
    if (!agreement) return;
    setBusy(true);
    try {
      await client.acceptAgreement(agreement.version);
      go({ name: 'list' });
    } catch (error) {
      setProblem(problemLine(error));
      setBusy(false);
    }
  }

  return html`<h1 tabindex="-1" ref=${heading}>${t('agreement.heading')}</h1>
    <p>${t('notice.agreementIntro')}</p>
    ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
    ${
      agreement &&
      html`<article class="card">
          <p class="hint">${t('agreement.version', { version: agreement.version })}</p>
          ${agreement.text.split(/\n{2,}/).map((para) => html`<p>${para}</p>`)}
        </article>
        <p class="notice">${t('chat.notForEmergencies')}</p>
        <${CrisisBox} />
        <button type="button" onClick=${accept} disabled=${busy}>${t('agreement.accept')}</button>`
    }`;
}
