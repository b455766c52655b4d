// Times for people: ages ("3 min") and clock times in the tenant's timezone.

import { lang } from './i18n.js';

let zone;

/** Use this IANA timezone (the tenant's) for clock times. */
export function setTimeZone(timeZone) {
  zone = timeZone;
}

/** How long ago `ms` was, short: "12 s", "3 min", "2 h", "4 d". */
export function age(ms, now = Date.now()) {
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} ${lang() === 'fr' ? 'j' : 'd'}`;
}

const formats = new Map();

function format(options) {
  const key = `${lang()}|${zone}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(lang(), { timeZone: zone, ...options }));
  return formats.get(key);
}

/** "21:04" in the tenant's timezone. */
export function clock(ms) {
  return format({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
}

/** "21:04:09" in the tenant's timezone. */
export function clockSeconds(ms) {
  return format({ hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(ms);
}

/** The ms timestamp of a stream offset "<ms>-<seq>". */
export function offsetTime(offset) {
  return Number(String(offset).split('-')[0]);
}
