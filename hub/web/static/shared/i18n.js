// Texts: one catalogue per language (i18n/fr.js, i18n/en.js), French by default.
// Each app owns one section of the catalogues (common, signin, console, unit, app).

import en from './i18n/en.js';
import fr from './i18n/fr.js';

const CATALOGUES = { fr, en };
const warned = new Set();
let current = null;

/** 'fr' (default) or 'en': ?lang= overrides, else the browser's language. */
export function lang() {
  if (current) return current;
  const asked = new URLSearchParams(location.search).get('lang');
  if (asked && asked in CATALOGUES) current = asked;
  else current = (navigator.language || '').toLowerCase().startsWith('en') ? 'en' : 'fr';
  return current;
}

/** Choose the language explicitly (tests, a language switch). */
export function setLang(code) {
  current = code in CATALOGUES ? code : 'fr';
}

function lookup(catalogue, key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), catalogue);
}

/** Whether `key` has a text in the current language or in French (no warning when not). */
export function hasText(key) {
  return typeof (lookup(CATALOGUES[lang()], key) ?? lookup(CATALOGUES.fr, key)) === 'string';
}

/** The text of `key` ('console.queue') with {name} placeholders filled; the key if missing. */
export function t(key, params = {}) {
  const text = lookup(CATALOGUES[lang()], key) ?? lookup(CATALOGUES.fr, key);
  if (typeof text !== 'string') {
    if (!warned.has(key)) {
      warned.add(key);
      console.warn(`i18n: no text for ${key}`);
    }
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

const ATTRIBUTES = [
  ['data-i18n-label', 'aria-label'],
  ['data-i18n-title', 'title'],
  ['data-i18n-placeholder', 'placeholder'],
];

/** Fill [data-i18n] texts and [data-i18n-label|title|placeholder] attributes under root. */
export function translate(root = document) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const [source, target] of ATTRIBUTES) {
    for (const el of root.querySelectorAll(`[${source}]`)) el.setAttribute(target, t(el.getAttribute(source)));
  }
}

/** A category's label in the current language, from the tenant's config ({id, label:{fr,en}}). */
export function categoryLabel(category) {
  if (!category) return '';
  return (category.label && (category.label[lang()] || category.label.fr)) || category.id;
}
