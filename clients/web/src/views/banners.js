/** What shows before composing: the not-for-emergencies line with the resources, the coach's
 * reply expectation and next opening, away notices, pause and end banners. */
import { html } from '../html.js';
import { t, locale } from '../i18n/index.js';
import { calendarDay, dayAndTime } from '../format.js';
import { pick } from '../session.js';
import { CrisisBox } from './common.js';

/** @param {{name: string, availability: any}} props */
export function Availability({ name, availability }) {
  if (!availability) return null;
  const hours = pick(availability, 'responseTimeHours', 'response_time_hours');
  const now = pick(availability, 'availableNow', 'available_now');
  const next = pick(availability, 'nextAvailableAt', 'next_available_at');
  const away = pick(availability, 'away');
  const zone = pick(availability, 'timeZone', 'time_zone');
  const backup = away ? pick(away, 'backupContact', 'backup_contact') : null;
  const awayText = away ? pick(away, 'message') : null;
  return html`<div class="notice" aria-label=${t('coach.availabilityHeading')}>
    ${
      away &&
      html`<p><strong>${t('chat.awayHeading', { name })}</strong></p>
        ${awayText && html`<blockquote>${awayText}</blockquote>`}`
    }
    ${hours != null && html`<p>${t('notice.replyWithin', { name, hours })}</p>`}
    ${now === true && !away && html`<p>${t('notice.availableNow', { name })}</p>`}
    ${now === false && next && html`<p>${t('notice.nextOpening', { name, when: dayAndTime(next, locale(), zone) })}</p>`}
    ${backup && html`<p>${t('notice.backup', { name, contact: backup })}</p>`}
  </div>`;
}

/** @param {{status: string, pause: {reason: string, resumeOn: string | null} | null, name: string}} props */
export function StatusBanner({ status, pause, name }) {
  if (status === 'paused') {
    return html`<section class="notice warn" role="status" aria-label=${t('chat.pausedHeading')}>
      <p><strong>${t('chat.pausedHeading')}</strong></p>
      ${
        pause?.reason &&
        html`<p>${t('chat.pauseReason', { name })}</p>
          <blockquote>${pause.reason}</blockquote>`
      }
      <p>
        ${
          pause?.resumeOn
            ? t('notice.pausedUntil', { date: calendarDay(pause.resumeOn, locale()) })
            : t('notice.pausedOpen')
        }
      </p>
    </section>`;
  }
  if (status === 'ended') {
    return html`<section class="notice warn" role="status" aria-label=${t('chat.endedHeading')}>
      <p><strong>${t('chat.endedHeading')}</strong></p>
      <p>${t('notice.ended')}</p>
    </section>`;
  }
  return null;
}

/** The one-line notice every chat opens with, and the resources. */
export function NotForEmergencies() {
  return html`<${CrisisBox} lead=${t('chat.notForEmergencies')} />`;
}

/**
 * The catalogue line for a refused send (never the server's text).
 * @param {string} code
 */
export function refusalLine(code) {
  if (code === 'paused') return t('notice.notDeliveredPaused');
  if (code === 'conflict' || code === 'ended') return t('notice.notDeliveredEnded');
  if (code === 'consent_required') return t('notice.notDeliveredConsent');
  if (code === 'backup_untrusted') return t('notice.notDeliveredBackup');
  return t('notice.notDelivered');
}
