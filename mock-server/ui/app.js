// The prelude-mock dashboard. Everything it shows and changes goes through the control API
// (/__mock/...), with the control token when the mock has one; the journal arrives live from
// /__mock/events (server-sent events, read with fetch so the token can be sent as a header).
// No framework and no build step: the server embeds these files as they are.
'use strict';

const ROUTES = ['refresh', 'revoke', 'me_list', 'me_revoke', 'login_finalize', 'login_password',
  'login_otp', 'login_otp_check', 'login_otp_retry', 'otp', 'otp_check', 'otp_retry', 'jwks'];
const SHOWN_ENTRIES = 500;

const state = {
  token: sessionStorage.getItem('prelude-mock-token') || '',
  users: [], sessions: [], faults: [], policy: null, clock: null, stats: null,
  journal: [], seen: new Set(), lastSeq: 0, generations: new Map(), open: new Set(),
  renders: 0,
};

// ---- small DOM helper: text is always set as text, never parsed as HTML -------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (id) => document.getElementById(id);
const short = (s, n = 8) => (s ? (s.length > n ? s.slice(0, n) + '…' : s) : '');
const iso = (unix) => new Date(unix * 1000).toISOString().replace('.000Z', 'Z');

// ---- the control API ----------------------------------------------------------------------
function headers(json) {
  const out = {};
  if (state.token) out.Authorization = 'Bearer ' + state.token;
  if (json) out['Content-Type'] = 'application/json';
  return out;
}

async function api(method, path, body) {
  const response = await fetch('/__mock' + path, {
    method, headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    askForToken();
    throw new Error('the control API needs its token');
  }
  const text = await response.text();
  const value = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((value && value.message) || response.statusText);
  return value;
}

function notice(text, ok) {
  const el = $('notice');
  el.textContent = text;
  el.className = ok ? 'notice ok' : 'notice';
  el.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { el.hidden = true; }, ok ? 2500 : 8000);
}

async function act(what, f) {
  try {
    await f();
    notice(what, true);
  } catch (e) {
    notice(what + ' failed: ' + e.message);
  }
}

function askForToken() {
  $('token-bar').hidden = false;
  $('token').focus();
}

// ---- loading --------------------------------------------------------------------------------
const loaders = {
  users: async () => { state.users = (await api('GET', '/users')).users; },
  sessions: async () => { state.sessions = (await api('GET', '/sessions')).sessions; },
  faults: async () => { state.faults = (await api('GET', '/faults')).faults; },
  policy: async () => { state.policy = await api('GET', '/policy'); },
  clock: async () => { state.clock = await api('GET', '/clock'); },
  stats: async () => { state.stats = await api('GET', '/stats'); },
};
// What a control change named (the path segment after /__mock/) makes stale.
const STALE = {
  users: ['users', 'sessions'], sessions: ['sessions'], policy: ['policy'], clock: ['clock', 'sessions'],
  faults: ['faults'], journal: ['stats'], reset: Object.keys(loaders), challenges: [],
  'signing-keys': [],
};

const pending = new Set();
let loadTimer = null;
function load(names) {
  names.forEach((n) => pending.add(n));
  if (loadTimer) return;
  // Coalesce a burst of events into one round of requests.
  loadTimer = setTimeout(async () => {
    loadTimer = null;
    const names = [...pending];
    pending.clear();
    try {
      await Promise.all(names.map((n) => loaders[n]()));
    } catch (e) {
      return;
    }
    render(names);
  }, 60);
}

// ---- the live stream ------------------------------------------------------------------------
let streamAbort = null;
async function stream() {
  if (streamAbort) streamAbort.abort();
  const abort = new AbortController();
  streamAbort = abort;
  try {
    const response = await fetch('/__mock/events?since=' + state.lastSeq, {
      headers: headers(false), signal: abort.signal,
    });
    if (response.status === 401) { askForToken(); setLive(false, 'needs token'); return; }
    if (!response.ok) throw new Error(response.statusText);
    setLive(true);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        handle(event, data.join('\n'));
      }
    }
  } catch (e) {
    if (abort.signal.aborted) return;
  }
  setLive(false, 'reconnecting…');
  setTimeout(stream, 1000);
}

function handle(event, data) {
  if (event === 'journal') {
    const entry = JSON.parse(data);
    if (state.seen.has(entry.seq)) return;
    state.seen.add(entry.seq);
    state.journal.push(entry);
    state.lastSeq = Math.max(state.lastSeq, entry.seq);
    if (state.journal.length > 5000) {
      for (const old of state.journal.splice(0, state.journal.length - 5000)) state.seen.delete(old.seq);
    }
    scheduleJournal(entry.seq);
    load(['sessions', 'stats', 'faults']);
  } else if (event === 'changed') {
    if (data === 'journal' || data === 'reset') {
      clearJournal();
      scheduleJournal();
    }
    load(STALE[data] || Object.keys(loaders));
  } else if (event === 'resync') {
    clearJournal();
    state.lastSeq = 0;
    stream();
  }
}

function clearJournal() {
  state.journal = [];
  state.seen.clear();
}

// A burst of thousands of requests arrives as thousands of events: the journal is drawn at
// most once per frame, with every entry that arrived since marked new, so the page stays
// responsive (the table shows the newest SHOWN_ENTRIES only).
let journalFrame = 0;
const fresh = new Set();
function scheduleJournal(seq) {
  if (seq !== undefined) fresh.add(seq);
  if (journalFrame) return;
  journalFrame = requestAnimationFrame(() => {
    journalFrame = 0;
    const seqs = new Set(fresh);
    fresh.clear();
    renderJournal(seqs);
  });
}

function setLive(on, text) {
  const el = $('live');
  el.className = 'live ' + (on ? 'on' : 'off');
  el.textContent = on ? '● live' : text;
}

// ---- rendering ------------------------------------------------------------------------------
function render(names) {
  if (names.includes('stats')) renderStats();
  if (names.includes('sessions') || names.includes('users')) renderSessions();
  if (names.includes('users')) renderUsers();
  if (names.includes('faults')) renderFaults();
  if (names.includes('clock')) renderClock();
  if (names.includes('policy')) renderPolicy();
}

function renderStats() {
  const s = state.stats;
  if (!s) return;
  const item = (label, value, bad) => h('span', {}, label + ' ', h('b', { class: bad && value ? 'bad' : '' }, value), ' · ');
  $('stats').replaceChildren(
    item('requests', s.requests), item('refreshes', s.refresh_ok), item('rotations', s.rotations),
    item('reuse detected', s.reuse_detected, true), item('replays rejected', s.replays_rejected, true),
    h('span', {}, 'logouts ', h('b', {}, s.logouts)));
}

// A session's refresh-token family, from its record and what the journal saw of it.
function family(session, ended) {
  const presented = new Map();
  const reused = new Set();
  for (const e of state.journal) {
    // Only requests that presented a refresh token (a login issues generation 0).
    if (e.session_id !== session.id || !e.refresh_token) continue;
    presented.set(e.generation, (presented.get(e.generation) || 0) + 1);
    if (e.reason === 'refresh_token_reused') reused.add(e.generation);
  }
  const nodes = [];
  for (let g = 0; g <= session.generation; g++) {
    // The newest token of an ended session is no one's current token any more.
    const last = g === session.generation;
    const cls = reused.has(g) ? 'node reused' : last && ended ? 'node ended' : last ? 'node current' : 'node';
    const n = presented.get(g) || 0;
    const text = 'g' + g + (n > 1 ? ' · presented ' + n + '×' : '') + (reused.has(g) ? ' · reused' : '');
    nodes.push(h('span', { class: cls, 'data-generation': g, title: 'generation ' + g + ': presented ' + n + '×' }, text));
  }
  return nodes;
}

function renderSessions() {
  const users = new Map(state.users.map((u) => [u.id, u]));
  const now = state.clock ? state.clock.now : Date.now() / 1000;
  const cards = state.sessions.slice().reverse().map((s) => {
    const ended = s.revoked || (s.expires_at <= now ? 'expired' : null);
    const d = s.device || {};
    const chain = [];
    family(s, ended).forEach((node, i) => { if (i) chain.push(h('span', { class: 'arrow' }, '→')); chain.push(node); });
    const before = state.generations.get(s.id);
    state.generations.set(s.id, s.generation);
    const card = h('div', { class: 'session' + (ended ? ' ended' : ''), 'data-session': s.id, 'data-generation': s.generation },
      h('div', { class: 'head' },
        h('span', { class: 'badge' + (ended ? ' ended' : '') }, ended ? ended.replaceAll('_', ' ') : 'active'),
        h('b', { class: 'mono' }, s.id),
        h('span', {}, (users.get(s.user_id) || {}).email || s.user_id),
        h('span', { class: 'muted' }, [d.device_type, d.device_model, d.os_version].filter(Boolean).join(' · ') || 'device unknown'),
        h('span', { class: 'muted mono', title: s.jkt }, 'key ' + short(s.jkt)),
        h('span', { class: 'muted' }, 'generation ' + s.generation),
        h('span', { class: 'muted' }, 'expires ' + iso(s.expires_at))),
      h('div', { class: 'chain' }, chain));
    if (before !== undefined && before !== s.generation) {
      const current = card.querySelector('.node.current');
      if (current) current.classList.add('flash');
    }
    return card;
  });
  $('session-count').textContent = state.sessions.length ? '(' + state.sessions.length + ')' : '';
  $('sessions').replaceChildren(...(cards.length ? cards : [h('p', { class: 'muted' }, 'No session yet: log in through the Prelude API.')]));
}

function entryClass(e) {
  if (e.reason === 'refresh_token_reused') return 'reuse';
  return e.verdict;
}

function renderJournal(newSeqs = new Set()) {
  state.renders += 1;
  const rows = [];
  const shown = state.journal.slice(-SHOWN_ENTRIES).reverse();
  const t0 = state.journal.length ? state.journal[0].received_ms : 0;
  for (const e of shown) {
    const answer = e.status === null || e.verdict === 'dropped' ? 'dropped' : String(e.status);
    const marks = [];
    if (e.generation !== null && e.generation !== undefined) {
      marks.push(!e.refresh_token ? 'issued g' + e.generation
        : e.rotated ? 'g' + e.generation + ' → g' + (e.generation + 1)
        : e.grace_reissue ? 'g' + e.generation + ' again (grace)' : 'g' + e.generation);
    }
    const row = h('tr', { class: 'entry ' + entryClass(e) + (newSeqs.has(e.seq) ? ' new' : ''), 'data-seq': e.seq,
      onclick: () => { state.open.has(e.seq) ? state.open.delete(e.seq) : state.open.add(e.seq); renderJournal(); } },
      h('td', { class: 'mono' }, e.seq),
      h('td', { class: 'mono muted' }, ((e.received_ms - t0) / 1000).toFixed(3) + ' s'),
      h('td', { class: 'mono' }, e.method + ' ' + e.path.replace('/v1/session', '')),
      h('td', { class: 'answer' }, answer + (e.code ? ' ' + e.code : '') + (e.reason && e.reason !== e.code ? ' (' + e.reason + ')' : '')),
      h('td', { class: 'mono', title: e.session_id || '' }, short(e.session_id, 12)),
      h('td', {}, marks.join(' ')),
      h('td', { class: 'mono', title: (e.dpop && e.dpop.jkt) || '' }, e.dpop ? short(e.dpop.jkt) : ''));
    rows.push(row);
    if (state.open.has(e.seq)) {
      const details = { detail: e.detail, virtual_time: iso(e.at), refresh_token_fingerprint: e.refresh_token, dpop: e.dpop, request: e.request };
      rows.push(h('tr', { class: 'details' }, h('td', { colspan: 7 }, h('pre', {}, JSON.stringify(details, null, 2)))));
    }
  }
  $('journal-count').textContent = state.journal.length ? '(' + state.journal.length + ' requests)' : '';
  $('journal').replaceChildren(...rows);
  // How many times the table was drawn: the browser tests check a burst is drawn in batches.
  $('journal').dataset.renders = String(state.renders);
  if (state.sessions.length) renderSessions();
}

function renderFaults() {
  $('faults').replaceChildren(...state.faults.map((f) => {
    const extra = f.action === 'error' ? ' ' + f.status + ' ' + f.code : f.action === 'delay' ? ' ' + f.ms + ' ms' : '';
    return h('li', { 'data-route': f.route }, h('span', { class: 'grow mono' }, f.route + ': ' + f.action + extra), h('span', { class: 'muted' }, '×' + f.times));
  }));
  if (!state.faults.length) $('faults').append(h('li', { class: 'muted' }, 'none queued'));
}

function renderClock() {
  const c = state.clock;
  if (!c) return;
  $('clock').textContent = iso(c.now) + (c.frozen ? ' (frozen)' : ' (running)');
  $('freeze').textContent = c.frozen ? 'Unfreeze' : 'Freeze';
}

function renderPolicy() {
  const form = $('policy');
  const p = state.policy;
  if (!p || form.contains(document.activeElement)) return;
  const fields = Object.entries(p).map(([k, v]) => {
    let input;
    if (k === 'nonce_mode') {
      input = h('select', { name: k }, ['off', 'required', 'rotating'].map((m) => h('option', { value: m, selected: m === v }, m)));
    } else if (typeof v === 'boolean') {
      return h('label', { class: 'check' }, h('input', { name: k, type: 'checkbox', checked: v, 'data-kind': 'boolean' }), k.replaceAll('_', ' '));
    } else {
      input = h('input', { name: k, value: v, type: typeof v === 'number' ? 'number' : 'text', 'data-kind': typeof v });
    }
    return h('label', {}, k.replaceAll('_', ' '), input);
  });
  form.replaceChildren(...fields, h('button', { type: 'submit' }, 'Apply policy'));
}

function renderUsers() {
  $('users').replaceChildren(...state.users.map((u) => h('li', {},
    h('span', { class: 'grow' }, u.email, ' ', h('span', { class: 'muted mono' }, short(u.id, 12))),
    u.blocked ? h('span', { class: 'badge ended' }, 'terminated')
      : h('button', { type: 'button', onclick: () => act('user terminated', () => api('POST', '/users/' + u.id + '/terminate')) }, 'Terminate'))));
}

// ---- forms ----------------------------------------------------------------------------------
function wire() {
  $('fault-route').replaceChildren(...ROUTES.map((r) => h('option', { value: r }, r)));
  const showFields = () => {
    const action = $('fault-action').value;
    document.querySelectorAll('#fault-form [data-for]').forEach((el) => { el.hidden = el.dataset.for !== action; });
  };
  $('fault-action').addEventListener('change', showFields);
  showFields();
  $('fault-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const fault = { route: f.get('route'), action: f.get('action'), times: Number(f.get('times')) || 1 };
    if (fault.action === 'error') { fault.status = Number(f.get('status')); fault.code = f.get('code'); }
    if (fault.action === 'delay') fault.ms = Number(f.get('ms'));
    act('fault queued', () => api('POST', '/faults', fault));
  });
  $('clear-faults').addEventListener('click', () => act('faults cleared', () => api('DELETE', '/faults')));
  $('clock-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const seconds = Number(new FormData(ev.target).get('seconds'));
    act('clock advanced ' + seconds + ' s', () => api('POST', '/clock/advance', { seconds }));
  });
  $('freeze').addEventListener('click', () => act('clock changed', async () => {
    const c = await api('GET', '/clock');
    await api('PUT', '/clock', { now: c.now, frozen: !c.frozen });
  }));
  $('policy').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const patch = {};
    for (const el of ev.target.elements) {
      if (!el.name) continue;
      patch[el.name] = el.dataset.kind === 'number' ? Number(el.value)
        : el.dataset.kind === 'boolean' ? el.checked : el.value;
    }
    act('policy applied', async () => { await api('PATCH', '/policy', patch); ev.target.querySelector('button').focus(); });
  });
  $('user-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    act('user added', async () => { await api('POST', '/users', { email: f.get('email'), password: f.get('password') }); ev.target.reset(); });
  });
  $('reset').addEventListener('click', () => {
    if (confirm('Reset the server: sessions, journal, faults and policy back to the start?')) act('server reset', () => api('POST', '/reset'));
  });
  $('clear-journal').addEventListener('click', () => act('journal cleared', () => api('DELETE', '/journal')));
  $('token-bar').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token').value;
    sessionStorage.setItem('prelude-mock-token', state.token);
    $('token-bar').hidden = true;
    start();
  });
}

function start() {
  load(Object.keys(loaders));
  stream();
}

// A token in the URL would already be in the browser's history and session files by the
// time the page could strip it: one there (from an old link) is removed and not used, and
// the page asks for the token instead.
wire();
if (new URLSearchParams(location.hash.slice(1)).has('token')) {
  history.replaceState(null, '', location.pathname);
  notice('a token in the URL is not used (it lands in the browser history): type it instead', false);
}
start();
// A running clock moves without events: re-read it now and then.
setInterval(() => { if (!document.hidden) load(['clock']); }, 5000);
