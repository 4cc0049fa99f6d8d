// Small DOM and formatting helpers shared by the views.

/** $ returns the element with the given id; the page defines them all. */
export const $ = (id) => document.getElementById(id);

/**
 * h builds an element: h('li', {class: 'x', onclick: fn}, child, 'text').
 * Attributes starting with "on" become listeners; null and false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

/** svg returns an inline icon drawn with the given path data. */
export function icon(...paths) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  for (const d of paths) {
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

/** hue maps a name to a stable hue, so a person keeps their colour. */
export function hue(name) {
  let x = 2166136261; // FNV-1a, then spread over the colour wheel
  for (const ch of name) x = Math.imul(x ^ ch.codePointAt(0), 16777619) >>> 0;
  return Math.round(((x % 1000) / 1000) * 24) * 15;
}

/** avatar returns an initials badge for a user or group name. */
export function avatar(name, { group = false, size = '' } = {}) {
  const words = name.split(/[\s._-]+/).filter(Boolean);
  const text = (words.length > 1 ? words[0][0] + words[1][0] : name.slice(0, 1)) || '?';
  const el = h('span', { class: `avatar ${group ? 'group' : ''} ${size}`.trim(), 'aria-hidden': 'true' }, text);
  el.style.setProperty('--h', hue(name));
  return el;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

/** clock formats the time of day of an ISO timestamp. */
export const clock = (iso) => timeFmt.format(new Date(iso));

/** fullTime formats an ISO timestamp for a tooltip. */
export const fullTime = (iso) => fullFmt.format(new Date(iso));

/** dayKey names the local calendar day of a timestamp. */
export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** dayLabel names a day for a separator: Today, Yesterday, or the date. */
export function dayLabel(iso) {
  const d = new Date(iso);
  const now = new Date();
  const startOf = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((startOf(now) - startOf(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return (d.getFullYear() === now.getFullYear() ? dayFmt : dayYearFmt).format(d);
}

/** shortWhen formats a list timestamp: a time today, a weekday this week, else a date. */
export function shortWhen(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const age = Date.now() - d.getTime();
  if (dayKey(iso) === dayKey(new Date().toISOString())) return timeFmt.format(d);
  if (age < 6 * 86400000) return weekdayFmt.format(d);
  return shortFmt.format(d);
}

/** ago formats how long ago an ISO timestamp was, for notifications. */
export function ago(iso) {
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return shortWhen(iso);
}

/** randomID returns a random identifier; it works outside secure contexts too. */
export function randomID(prefix = '') {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return prefix + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** cmpCursor orders two conversation cursors: decimal strings of any length. */
export function cmpCursor(a, b) {
  a = String(a); b = String(b);
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = a.replace(/^0+(?=\d)/, ''), y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length - y.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** announce reads a short text to screen readers. */
export function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  setTimeout(() => { el.textContent = text; }, 30);
}

/** toast shows a short card in the corner for a few seconds. */
export function toast(title, body = '', ms = 5000) {
  const el = h('div', { class: 'toast', role: 'status' }, h('strong', null, title), body ? h('p', null, body) : null);
  $('toasts').append(el);
  setTimeout(() => el.remove(), ms);
  while ($('toasts').children.length > 3) $('toasts').firstElementChild.remove();
}
