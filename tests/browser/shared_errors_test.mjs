// Pure tests of shared/errors.js: a failed request reads as a sentence chosen by
// its code, in the page's language, never the hub's English developer text
// (run in Chromium by test_js_units.py).
import { ApiError } from '../../hub/web/static/shared/api.js';
import { RequestError } from '../../hub/web/static/shared/connection.js';
import { ERROR_CODES, HubError, errorCode, errorText } from '../../hub/web/static/shared/errors.js';
import { setLang } from '../../hub/web/static/shared/i18n.js';
import en from '../../hub/web/static/shared/i18n/en.js';
import fr from '../../hub/web/static/shared/i18n/fr.js';

function eq(actual, expected, what = '') {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

const reply = (code, extra = {}) => ({ type: 'error', ref: 'r1', code, message: `the hub says ${code}`, ...extra });

// hub/core/errors.py ErrorCode, as of protocol v1: the apps must have words for each.
const HUB_CODES = ['bad_request', 'unknown_type', 'forbidden', 'rate_limited', 'out_of_area', 'not_found',
  'conflict', 'too_large', 'unavailable', 'internal'];

export function test_both_catalogues_have_every_code() {
  for (const code of HUB_CODES) eq(ERROR_CODES.includes(code), true, `ERROR_CODES lists ${code}`);
  const needed = [...ERROR_CODES, 'unknown', 'rate_limited_soon', 'unavailable_soon'];
  for (const [name, catalogue] of [['fr', fr], ['en', en]]) {
    for (const key of needed) eq(typeof catalogue.common.errors[key], 'string', `${name} common.errors.${key}`);
  }
  // Every app's own error words exist in both languages.
  const sections = (c) => ({ common: c.common.errors, unit: c.unit.errors, console: c.console.errors, app: c.app.error });
  for (const [section, keys] of Object.entries(sections(fr))) {
    eq(Object.keys(sections(en)[section]).sort(), Object.keys(keys).sort(), `${section}: same keys in fr and en`);
  }
}

export function test_a_hub_error_reads_by_its_code_in_french() {
  setLang('fr');
  const text = errorText(reply('conflict', { message: 'the assignment is cancelled' }));
  eq(text, fr.common.errors.conflict, 'conflict');
  eq(text.includes('assignment'), false, 'no English');
  eq(errorText(reply('too_large')), 'Le texte est trop long.', 'too_large');
  setLang('en');
  eq(errorText(reply('too_large')), 'The text is too long.', 'english page');
  setLang('fr');
}

export function test_retry_after_fills_the_delay_or_says_a_moment() {
  setLang('fr');
  eq(errorText(reply('rate_limited', { retry_after_s: 12 })), 'Trop de demandes : réessayez dans 12 s.', 'with');
  eq(errorText(reply('unavailable', { retry_after_s: 2.2 })).includes('dans 3 s'), true, 'rounded up');
  eq(errorText(reply('rate_limited')), fr.common.errors.rate_limited_soon, 'without');
  eq(errorText(reply('unavailable', { retry_after_s: -1 })), fr.common.errors.unavailable_soon, 'nonsense delay');
}

export function test_an_unknown_code_or_none_reads_the_generic_sentence() {
  setLang('fr');
  const generic = fr.common.errors.unknown;
  eq(errorText(reply('teleport_failed')), generic, 'a code added later');
  eq(errorText(reply('common.title')), generic, 'a code is never a key path');
  eq(errorText({ type: 'error', message: 'no code at all' }), generic, 'no code');
  eq(errorText(new TypeError('x is undefined')), generic, 'a script error');
  eq(errorText(null), generic, 'nothing');
  eq(errorCode(new TypeError('x')), null, 'no code of a plain error');
}

export function test_an_app_prefix_comes_first_then_common() {
  setLang('fr');
  eq(errorText(new RequestError('lost', 'u-1'), 'unit.errors'), fr.unit.errors.lost, 'unit: lost');
  eq(errorText(reply('forbidden'), 'unit.errors'), fr.common.errors.forbidden, 'unit: common forbidden');
  eq(errorText(reply('conflict'), 'console.errors'), fr.console.errors.conflict, 'console: its own conflict');
  eq(errorText({ code: 'rate_limited', retry_after_s: 30 }, 'app.error'),
    'Trop de signalements en peu de temps : réessayez dans 30 s.', 'app: rate limit with delay');
  eq(errorText({ code: 'rate_limited', retry_after_s: null }, 'app.error'), fr.common.errors.rate_limited_soon,
    'app: a text needing a delay is skipped without one');
}

export function test_hub_error_carries_code_and_detail_and_speaks_french() {
  setLang('fr');
  const err = new HubError(reply('rate_limited', { retry_after_s: 5, message: 'too many messages' }), 'unit.errors');
  eq([err.code, err.retryAfterS, err.detail], ['rate_limited', 5, 'too many messages'], 'fields');
  eq(err.message, 'Trop de demandes : réessayez dans 5 s.', 'message in French');
  eq(errorText(err, 'unit.errors'), err.message, 'read again the same');
}

export function test_http_api_errors_read_by_code() {
  setLang('fr');
  eq(errorText(new ApiError(400, { error: 'out_of_area', message: 'this point is outside Narbonne' })),
    fr.common.errors.out_of_area, 'out_of_area');
  eq(errorText(new ApiError(401, { error: 'unauthorized', message: 'a token is required' })),
    fr.common.errors.unauthorized, 'unauthorized');
  eq(errorText(new ApiError(502, null)), fr.common.errors.unknown, 'no body');
}
