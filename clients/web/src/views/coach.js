/** Coach tools: invite a client, pause/resume with the SDK's templates, availability in a form,
 * quiet hours. */
import { useEffect, useState } from 'preact/hooks';
import { PAUSE_TEMPLATES } from 'haven-sdk';
import { html } from '../html.js';
import { t, locale } from '../i18n/index.js';
import { calendarDay } from '../format.js';
import { conversation, pick } from '../session.js';
import { usePage, problemLine } from './common.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** @param {{client: any, me: import('../session.js').Person}} props */
export function CoachTools({ client, me }) {
  const heading = usePage(t('title.coach'));
  const [status, setStatus] = useState('');
  const [problem, setProblem] = useState('');
  const [invite, setInvite] = useState(/** @type {any} */ (null));
  /** @param {() => Promise<unknown>} action @param {string} done */
  const attempt = async (action, done) => {
    setProblem('');
    setStatus('');
    try {
      await action();
      setStatus(done);
    } catch (error) {
      setProblem(problemLine(error));
    }
  };
  return html`<h1 tabindex="-1" ref=${heading}>${t('coach.heading')}</h1>
    <div role="status">${status && html`<p class="notice">${status}</p>`}</div>
    ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
    <section class="card" aria-labelledby="inv-h">
      <h2 id="inv-h">${t('coach.inviteHeading')}</h2>
      <button type="button" onClick=${() => attempt(async () => setInvite(await client.createInvite('client')), '')}>
        ${t('coach.invite')}
      </button>
      ${
        invite &&
        html`<p>
            <label for="invite-code">${t('coach.inviteCode')}</label>
            <input id="invite-code" class="code" type="text" readonly defaultValue=${invite.code} />
          </p>
          <p>
            ${t('notice.inviteCreated', { date: calendarDay(String(pick(invite, 'expiresAt', 'expires_at') ?? '').slice(0, 10), locale()) })}
          </p>`
      }
    </section>
    <${Pause} client=${client} me=${me} attempt=${attempt} />
    <${AvailabilityForm} client=${client} me=${me} attempt=${attempt} />
    <${QuietHours} client=${client} attempt=${attempt} />`;
}

/** @param {{client: any, me: import('../session.js').Person, attempt: Function}} props */
function Pause({ client, me, attempt }) {
  const [convs, setConvs] = useState(/** @type {import('../session.js').Conversation[]} */ ([]));
  const [template, setTemplate] = useState(Object.keys(PAUSE_TEMPLATES)[0] ?? '');
  const load = () =>
    client
      .conversations()
      .then((/** @type {any[]} */ l) =>
        setConvs(l.map((c) => conversation(c, me.accountId)).filter((c) => c.status !== 'ended')),
      );
  useEffect(() => {
    load();
  }, [client]);
  /** @param {Event} e @param {'pause' | 'resume'} what */
  const act = (e, what) => {
    const form = /** @type {HTMLFormElement} */ (/** @type {HTMLElement} */ (e.target).closest('form'));
    const data = new FormData(form);
    const id = String(data.get('conversation'));
    const resumeOn = String(data.get('resumeOn') ?? '') || null;
    return what === 'pause'
      ? attempt(async () => {
          await client.pause(id, { reason: PAUSE_TEMPLATES[template], resumeOn });
          await load();
        }, t('notice.paused'))
      : attempt(async () => {
          await client.resume(id);
          await load();
        }, t('notice.resumed'));
  };
  if (!convs.length) return null;
  return html`<section class="card" aria-labelledby="pause-h">
    <h2 id="pause-h">${t('coach.pauseHeading')}</h2>
    <form class="stack" onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
      <div>
        <label for="p-conv">${t('coach.conversation')}</label>
        <select id="p-conv" name="conversation">
          ${convs.map((c) => html`<option value=${c.id}>${c.counterpart.displayName} (${c.status})</option>`)}
        </select>
      </div>
      <div>
        <label for="p-template">${t('coach.template')}</label>
        <select
          id="p-template"
          value=${template}
          onChange=${(/** @type {Event} */ e) => setTemplate(/** @type {HTMLSelectElement} */ (e.target).value)}
        >
          ${Object.keys(PAUSE_TEMPLATES).map((k) => html`<option value=${k}>${t(`template.${k}`)}</option>`)}
        </select>
      </div>
      <p>${t('coach.preview')}</p>
      <blockquote>${PAUSE_TEMPLATES[template]}</blockquote>
      <div><label for="p-resume">${t('coach.resumeOn')}</label><input id="p-resume" name="resumeOn" type="date" /></div>
      <p>
        <button type="button" onClick=${(/** @type {Event} */ e) => act(e, 'pause')}>${t('coach.pause')}</button>
        <button type="button" class="quiet" onClick=${(/** @type {Event} */ e) => act(e, 'resume')}>
          ${t('coach.resume')}
        </button>
      </p>
    </form>
  </section>`;
}

/** @param {{client: any, me: import('../session.js').Person, attempt: Function}} props */
function AvailabilityForm({ client, me, attempt }) {
  const [current, setCurrent] = useState(/** @type {any} */ ({}));
  useEffect(() => {
    client
      .availability(me.accountId)
      .then(setCurrent)
      .catch(() => undefined);
  }, [client]);
  const weekly = /** @type {any[]} */ (pick(current, 'weekly') ?? []);
  const zone = pick(current, 'timeZone', 'time_zone') ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const away = pick(current, 'away');
  const [awayChoice, setAwayOn] = useState(/** @type {boolean | null} */ (null));
  const awayOn = awayChoice ?? Boolean(away);
  /** @param {Event} e */
  const save = (e) => {
    e.preventDefault();
    const f = new FormData(/** @type {HTMLFormElement} */ (e.target));
    const get = (/** @type {string} */ k) => String(f.get(k) ?? '').trim();
    const body = {
      time_zone: get('zone'),
      weekly: DAYS.filter((d) => get(`${d}-start`) && get(`${d}-end`)).map((d) => ({
        day: d,
        start: get(`${d}-start`),
        end: get(`${d}-end`),
      })),
      response_time_hours: Number(get('hours') || 24),
      away_message: get('awayMessage'),
      away:
        f.get('awayOn') === 'on'
          ? {
              from: get('awayFrom'),
              until: get('awayUntil'),
              message: get('awayText'),
              backup_contact: get('backup') || null,
            }
          : null,
    };
    attempt(async () => setCurrent(await client.setAvailability(body)), t('notice.saved'));
  };
  return html`<section class="card" aria-labelledby="av-h">
    <h2 id="av-h">${t('coach.availabilityHeading')}</h2>
    <form class="stack" onSubmit=${save}>
      <div>
        <label for="av-zone">${t('coach.timeZone')}</label
        ><input id="av-zone" name="zone" type="text" defaultValue=${zone} required />
      </div>
      <table class="week">
        <tbody>
          ${DAYS.map((d) => {
            const slot = weekly.find((w) => w.day === d);
            return html`<tr>
              <th scope="row">${t(`day.${d}`)}</th>
              <td>
                <label class="visually-hidden" for=${`${d}-start`}>${t('coach.dayStart', { day: t(`day.${d}`) })}</label
                ><input id=${`${d}-start`} name=${`${d}-start`} type="time" defaultValue=${slot?.start ?? ''} />
              </td>
              <td>
                <label class="visually-hidden" for=${`${d}-end`}>${t('coach.dayEnd', { day: t(`day.${d}`) })}</label
                ><input id=${`${d}-end`} name=${`${d}-end`} type="time" defaultValue=${slot?.end ?? ''} />
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      <div>
        <label for="av-hours">${t('coach.responseTime')}</label
        ><input
          id="av-hours"
          name="hours"
          type="number"
          min="1"
          defaultValue=${pick(current, 'responseTimeHours', 'response_time_hours') ?? 24}
        />
      </div>
      <div>
        <label for="av-msg">${t('coach.awayMessage')}</label
        ><input
          id="av-msg"
          name="awayMessage"
          type="text"
          defaultValue=${pick(current, 'awayMessage', 'away_message') ?? ''}
        />
      </div>
      <p class="check">
        <input
          id="av-away"
          name="awayOn"
          type="checkbox"
          checked=${awayOn}
          onChange=${(/** @type {Event} */ e) => setAwayOn(/** @type {HTMLInputElement} */ (e.target).checked)}
        />
        <label for="av-away">${t('coach.awayOn')}</label>
      </p>
      <fieldset class="stack" hidden=${!awayOn} disabled=${!awayOn}>
        <div>
          <label for="av-from">${t('coach.awayFrom')}</label
          ><input id="av-from" name="awayFrom" type="date" defaultValue=${String(away?.from ?? '').slice(0, 10)} />
        </div>
        <div>
          <label for="av-until">${t('coach.awayUntil')}</label
          ><input id="av-until" name="awayUntil" type="date" defaultValue=${String(away?.until ?? '').slice(0, 10)} />
        </div>
        <div>
          <label for="av-text">${t('coach.awayText')}</label
          ><input id="av-text" name="awayText" type="text" defaultValue=${away?.message ?? ''} />
        </div>
        <div>
          <label for="av-backup">${t('coach.backup')}</label
          ><input
            id="av-backup"
            name="backup"
            type="text"
            defaultValue=${pick(away, 'backupContact', 'backup_contact') ?? ''}
          />
        </div>
      </fieldset>
      <div><button type="submit">${t('coach.saveAvailability')}</button></div>
    </form>
  </section>`;
}

/** @param {{client: any, attempt: Function}} props */
function QuietHours({ client, attempt }) {
  const [current, setCurrent] = useState(/** @type {any} */ ({}));
  useEffect(() => {
    client
      .notificationSettings()
      .then(setCurrent)
      .catch(() => undefined);
  }, [client]);
  const quiet = pick(current, 'quietHours', 'quiet_hours');
  /** @param {Event} e */
  const save = (e) => {
    e.preventDefault();
    const f = new FormData(/** @type {HTMLFormElement} */ (e.target));
    const body = {
      time_zone: pick(current, 'timeZone', 'time_zone') ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
      quiet_hours: f.get('quietOn') === 'on' ? { start: String(f.get('start')), end: String(f.get('end')) } : null,
      urgent_bypass: f.get('bypass') === 'on',
    };
    attempt(async () => setCurrent(await client.setNotificationSettings(body)), t('notice.saved'));
  };
  return html`<section class="card" aria-labelledby="q-h">
    <h2 id="q-h">${t('coach.quietHeading')}</h2>
    <form class="stack" onSubmit=${save}>
      <p class="check">
        <input id="q-on" name="quietOn" type="checkbox" defaultChecked=${Boolean(quiet)} />
        <label for="q-on">${t('coach.quietOn')}</label>
      </p>
      <div>
        <label for="q-start">${t('coach.quietStart')}</label
        ><input id="q-start" name="start" type="time" defaultValue=${quiet?.start ?? '21:00'} />
      </div>
      <div>
        <label for="q-end">${t('coach.quietEnd')}</label
        ><input id="q-end" name="end" type="time" defaultValue=${quiet?.end ?? '08:00'} />
      </div>
      <p class="check">
        <input
          id="q-bypass"
          name="bypass"
          type="checkbox"
          defaultChecked=${Boolean(pick(current, 'urgentBypass', 'urgent_bypass'))}
        />
        <label for="q-bypass">${t('coach.urgentBypass')}</label>
      </p>
      <div><button type="submit">${t('coach.saveQuiet')}</button></div>
    </form>
  </section>`;
}
