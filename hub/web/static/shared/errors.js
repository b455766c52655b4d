// The hub's refusals in the user's words. An `error` reply (docs/protocol.md,
// Errors) carries a machine `code` and an English `message` written for
// developers: the screen shows a sentence chosen by the code, in the page's
// language, and the hub's message goes to console.debug only. Never decide
// anything from the message text: it is not part of the contract.
//
// The same reading serves the HTTP API's errors (`ApiError.code`, same codes plus
// `unauthorized`) and a request that got no reply (`RequestError.reason`:
// timeout, lost, offline), so a view has one call for every failure it shows.

import { hasText, t } from './i18n.js';

/**
 * Every code the apps can be told, each with a text in `common.errors` of both
 * catalogues: hub/core/errors.py `ErrorCode`, the HTTP API's `unauthorized`, and
 * the reasons of a `RequestError`.
 */
export const ERROR_CODES = Object.freeze([
  'bad_request', 'unknown_type', 'forbidden', 'rate_limited', 'out_of_area', 'not_found',
  'conflict', 'too_large', 'unavailable', 'internal', 'unauthorized', 'timeout', 'lost', 'offline',
]);

const CODE = /^[a-z][a-z0-9_]{0,39}$/; // a code becomes part of a catalogue key: nothing else may

/** A request the hub refused: `code`, `retryAfterS`, and its developer text as `detail`. */
export class HubError extends Error {
  /**
   * @param {{code: string, message?: string, retry_after_s?: number}} reply the `error` reply
   * @param {string} [prefix] catalogue prefix tried before `common.errors` ('unit.errors')
   */
  constructor(reply, prefix) {
    super(errorText(reply, prefix)); // so even String(err) is in the user's language
    this.name = 'HubError';
    this.code = reply.code;
    this.retryAfterS = typeof reply.retry_after_s === 'number' ? reply.retry_after_s : null;
    this.detail = reply.message || '';
  }
}

/** The machine code of an error reply, HubError, ApiError or RequestError; null otherwise. */
export function errorCode(error) {
  if (!error || typeof error !== 'object') return null;
  const code = typeof error.code === 'string' ? error.code : error.reason; // RequestError: reason
  return typeof code === 'string' && CODE.test(code) ? code : null;
}

function retryAfter(error) {
  const seconds = error && (error.retry_after_s ?? error.retryAfterS);
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
}

function developerText(error) {
  if (!error || typeof error !== 'object') return String(error);
  return error.detail ?? error.message ?? '';
}

/**
 * The sentence to show for a failed request, chosen by its code: first
 * `<prefix>.<code>` (an app's words for its context), then `common.errors.<code>`;
 * `{seconds}` is filled from `retry_after_s`, and without it the `<code>_soon`
 * variant ("in a moment") is used. An unknown code, or an error that has none,
 * reads `common.errors.unknown`. The hub's English text goes to console.debug.
 *
 * @param {object} error an `error` reply, HubError, ApiError, RequestError or any Error
 * @param {string} [prefix] e.g. 'unit.errors', 'app.error'
 */
export function errorText(error, prefix) {
  const code = errorCode(error);
  const seconds = retryAfter(error);
  console.debug(`vigie: request failed (${code || 'no code'}): ${developerText(error)}`);
  if (code) {
    for (const base of prefix ? [prefix, 'common.errors'] : ['common.errors']) {
      const keys = seconds === null ? [`${base}.${code}_soon`, `${base}.${code}`] : [`${base}.${code}`];
      for (const key of keys) {
        if (!hasText(key)) continue;
        if (seconds === null && t(key).includes('{seconds}')) continue; // needs a delay we lack
        return t(key, { seconds });
      }
    }
  }
  return t('common.errors.unknown');
}
