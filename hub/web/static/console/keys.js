// Keyboard: j/k move in the queue (and the arrow keys on a focused row),
// a acknowledge, d dispatch, n the notice composer, s sound, ? the keys.
// Keys typed in a text field, a picker or with a modifier are not ours.

import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';

/** key → [catalogue key of its description, handler name] — one table, shown by `?`. */
export const KEYS = [
  ['j', 'console.keys.next', 'next'],
  ['k', 'console.keys.previous', 'previous'],
  ['a', 'console.keys.acknowledge', 'acknowledge'],
  ['d', 'console.keys.dispatch', 'dispatch'],
  ['n', 'console.keys.notice', 'notice'],
  ['s', 'console.keys.sound', 'sound'],
  ['?', 'console.keys.help', 'help'],
];

const ALIASES = { ArrowDown: 'j', ArrowUp: 'k' };

function typing(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

/**
 * Listen on the document. `handlers` has one function per handler name above.
 * The arrow keys only count on a queue row (the map pans with them).
 */
export function bindKeys(handlers, dialog) {
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (dialog.open && event.key !== '?') return;
    if (event.target.closest?.('dialog') && event.target.closest('dialog') !== dialog) return; // another view's dialog
    let key = event.key;
    if (ALIASES[key]) {
      if (!event.target.closest?.('.queue-row')) return;
      key = ALIASES[key];
    }
    const entry = KEYS.find(([k]) => k === key);
    if (!entry) return;
    event.preventDefault();
    handlers[entry[2]]();
  });
}

/** The `?` dialog's content: the same table as the bindings. */
export function fillKeysDialog(dialog) {
  const list = h('dl', { class: 'keys' },
    KEYS.map(([key, text]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, t(text))]));
  const done = h('button', { type: 'button', onclick: () => dialog.close() }, t('console.keys.done'));
  dialog.replaceChildren(h('h2', { id: 'keys-title' }, t('console.keys.title')), list, done);
  dialog.setAttribute('aria-labelledby', 'keys-title');
}
