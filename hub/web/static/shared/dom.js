// The only way the apps build DOM: elements and text nodes, never HTML strings.
// Citizens' and units' texts are untrusted: they reach the page as text only.

/**
 * Create an element. attrs: `class`, `dataset` (object), `on<event>` (a function,
 * added with addEventListener), a boolean (present or not), anything else via
 * setAttribute. Children: nodes or strings (as text nodes); null/false skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'class') el.className = value;
    else if (name === 'style' || name.toLowerCase().startsWith('on')) throw new Error(`dom.h: attribute ${name} not allowed`);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Remove every child of el. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

/** querySelector, with a clear error when the element is missing. */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`dom.$: nothing matches ${selector}`);
  return el;
}
