// Switchyard dashboard: polls the admin server's JSON (/v1/services,
// /v1/proxies, /status with its fleets and certificates) every second and
// redraws the page. Every value comes from Consul or a proxy, so text is
// set with textContent only.
'use strict';

const refreshMillis = 1000;
const fetchTimeoutMillis = 5000;
const typeNames = ['CDS', 'EDS', 'LDS', 'RDS'];

// el builds an element with attributes (data-* included) and children;
// strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

// getJSON fetches one admin endpoint, failing on a non-2xx answer or after
// fetchTimeoutMillis.
async function getJSON(path) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), fetchTimeoutMillis);
  try {
    const resp = await fetch(path, { signal: ctrl.signal, cache: 'no-store' });
    if (!resp.ok) throw new Error(path + ': HTTP ' + resp.status);
    return await resp.json();
  } finally {
    clearTimeout(timer);
  }
}

// formatPercent prints a share's weight: at most two decimals, no trailing
// zeros ("80%", "33.33%").
function formatPercent(p) {
  return Number(Number(p).toFixed(2)) + '%';
}

// targetName names a share's destination as service or service/subset.
function targetName(share) {
  return share.subset ? share.service + '/' + share.subset : share.service;
}

function renderInstances(instances) {
  if (!instances || instances.length === 0) return el('p', { class: 'empty' }, 'No instance registered.');
  return el('table', { class: 'instances' },
    el('thead', null, el('tr', null, el('th', null, 'instance'), el('th', null, 'node'), el('th', null, 'address'), el('th', null, 'health'))),
    el('tbody', null, instances.map((in_) =>
      el('tr', { class: 'instance', 'data-instance': in_.id, 'data-health': in_.health },
        el('td', { class: 'mono' }, in_.id),
        el('td', { class: 'node' }, in_.node),
        el('td', { class: 'mono' }, in_.address + ':' + in_.port),
        el('td', null, el('span', { class: 'health' }, in_.health))))));
}

// barFill is a share's bar, as wide as its percent. The width is set
// through the CSSOM: the page's CSP allows no inline style attribute.
function barFill(percent) {
  const fill = el('div', { class: 'bar-fill' });
  fill.style.width = Math.max(0, Math.min(100, Number(percent))) + '%';
  return fill;
}

function renderRoutes(routes) {
  return (routes || []).map((r, i) =>
    el('div', { class: 'route', 'data-route': i, 'data-match': r.match || 'default' },
      el('div', { class: 'route-match' }, r.match ? el('code', null, r.match) : 'default route'),
      el('div', { class: 'shares' }, (r.shares || []).map((s) =>
        el('div', { class: 'share', 'data-target': targetName(s), 'data-percent': s.percent, title: targetName(s) + ': ' + formatPercent(s.percent) },
          el('span', { class: 'share-target mono' }, targetName(s)),
          el('div', { class: 'bar' }, barFill(s.percent)),
          el('span', { class: 'percent' }, formatPercent(s.percent)))))));
}

function renderSubsets(subsets) {
  if (!subsets || subsets.length === 0) return null;
  return [el('h4', null, 'Subsets'), subsets.map((s) =>
    el('div', { class: 'subset', 'data-subset': s.name },
      el('strong', null, s.name), ' ',
      s.filter ? el('code', null, s.filter) : 'every instance',
      s.only_passing ? ' (passing only)' : '',
      ' → ', el('span', { class: 'subset-instances mono' }, s.instances.length ? s.instances.join(', ') : 'no instance')))];
}

function renderProblems(svc) {
  const out = [];
  if (svc.rejected) {
    out.push(el('div', { class: 'rejected', 'data-rejected': '' }, 'Rejected, last good routing in force: ' + svc.rejected));
  }
  const flavours = Object.keys(svc.downgrades || {}).sort();
  if (flavours.length > 0) {
    out.push(el('h4', null, 'Downgrades'), el('ul', { class: 'downgrades' },
      flavours.flatMap((f) => svc.downgrades[f].map((d) => el('li', { class: 'downgrade', 'data-flavour': f }, f + ': ' + d)))));
  }
  return out;
}

function renderService(svc) {
  return el('article', { class: 'service' + (svc.rejected ? ' has-rejected' : ''), 'data-service': svc.name },
    el('div', { class: 'service-head' },
      el('h3', null, svc.name),
      svc.protocol ? el('span', { class: 'badge protocol' }, svc.protocol) : null),
    el('h4', null, 'Instances'), renderInstances(svc.instances),
    el('h4', null, 'Routes'), renderRoutes(svc.routes),
    renderSubsets(svc.subsets),
    renderProblems(svc));
}

function stateBadge(state) {
  return el('span', { class: 'state', 'data-state': state }, state);
}

// renderProxy returns a proxy stream's row, followed by a row per rejected
// type with the proxy's error text.
function renderProxy(p) {
  const types = new Map((p.types || []).map((t) => [t.type, t]));
  const rejected = p.state === 'REJECTED';
  const rows = [el('tr', { class: 'proxy' + (rejected ? ' is-rejected' : ''), 'data-proxy': p.id, 'data-group': p.group, 'data-kind': p.kind, 'data-state': p.state },
    el('td', { class: 'mono' }, p.id),
    el('td', null, p.group),
    el('td', null, p.kind),
    el('td', null, p.protocol),
    el('td', null, stateBadge(p.state)),
    typeNames.map((name) => {
      const t = types.get(name);
      const state = t ? t.state : 'NOT SENT';
      return el('td', { class: 'type', 'data-type': name, 'data-state': state, title: t && t.accepted_version ? 'accepted ' + t.accepted_version : null }, stateBadge(state));
    }))];
  for (const t of p.types || []) {
    if (!t.rejection) continue;
    const r = t.rejection;
    rows.push(el('tr', { class: 'rejection', 'data-proxy': p.id, 'data-type': t.type },
      el('td', { colspan: 9 },
        el('strong', null, t.type + ' version ' + r.version + ' rejected at ' + new Date(r.at).toLocaleTimeString() + ': '),
        el('span', { class: 'rejection-error' }, r.error))));
  }
  return rows;
}

// problemRow is a full-width row under a fleet or certificate's row,
// highlighted as a proxy's rejection is.
function problemRow(attrs, colspan, head, text) {
  return el('tr', Object.assign({ class: 'rejection' }, attrs),
    el('td', { colspan: colspan }, el('strong', null, head), el('span', { class: 'rejection-error' }, text)));
}

// renderFleet returns a fleet's row, followed by a row saying why its
// stored profile is rejected and one with its last build error.
function renderFleet(name, f) {
  const rows = [el('tr', { class: 'fleet' + (f.rejected ? ' is-rejected' : ''), 'data-fleet': name, 'data-rejected': Boolean(f.rejected), 'data-index': f.index || 0 },
    el('td', { class: 'mono' }, name),
    el('td', null, f.index ? 'index ' + f.index : el('span', { class: 'state', 'data-state': 'NOT SENT' }, 'none in force')),
    el('td', null, String(f.services || 0)),
    el('td', null, String(f.clusters || 0)),
    el('td', { class: 'mono' }, (f.secrets || []).join(', ')))];
  if (f.rejected) {
    const head = 'Rejected' + (f.rejected_index ? ' (index ' + f.rejected_index + ')' : '') +
      (f.index ? ', last good profile in force: ' : ', no profile in force, its proxies get the default resources: ');
    rows.push(problemRow({ 'data-fleet': name, 'data-problem': 'rejected' }, 5, head, f.rejected));
  }
  if (f.error) {
    rows.push(problemRow({ 'data-fleet': name, 'data-problem': 'error' }, 5, 'Build failed, last published in force: ', f.error));
  }
  for (const w of f.warnings || []) {
    rows.push(el('tr', { class: 'warning', 'data-fleet': name, 'data-problem': 'warning' },
      el('td', { colspan: 5 }, el('strong', null, 'Warning: '), w)));
  }
  return rows;
}

// renderCert returns a certificate's row, with its expiry, followed by a
// row with its error. Status never carries key material.
function renderCert(name, c) {
  const notAfter = c.not_after ? new Date(c.not_after) : null;
  const expired = notAfter !== null && notAfter.getTime() <= Date.now();
  const rows = [el('tr', { class: 'cert' + (c.error ? ' has-error' : ''), 'data-cert': name, 'data-expired': expired, 'data-error': Boolean(c.error) },
    el('td', { class: 'mono' }, name),
    el('td', null, c.index ? String(c.index) : el('span', { class: 'state', 'data-state': 'NOT SENT' }, 'none in force')),
    el('td', { class: expired ? 'expiry expired' : 'expiry', title: c.not_after || null },
      notAfter ? (expired ? 'EXPIRED ' : '') + c.not_after.slice(0, 10) : '-'),
    el('td', { class: 'mono' }, (c.names || []).join(', ')))];
  if (c.error) {
    rows.push(problemRow({ 'data-cert': name, 'data-problem': 'error' }, 4, 'Error: ', c.error));
  }
  return rows;
}

// renderFleets redraws the Fleets panel from /status, sorted by name; the
// panel is hidden while no fleet profile or certificate is stored.
function renderFleets(status) {
  const fleets = status.fleets || {};
  const certs = status.certs || {};
  const fleetNames = Object.keys(fleets).sort();
  const certNames = Object.keys(certs).sort();
  document.querySelector('#fleets tbody').replaceChildren(...fleetNames.flatMap((n) => renderFleet(n, fleets[n])));
  document.querySelector('#certs tbody').replaceChildren(...certNames.flatMap((n) => renderCert(n, certs[n])));
  document.getElementById('no-fleets').hidden = fleetNames.length > 0;
  document.getElementById('no-certs').hidden = certNames.length > 0;
  document.getElementById('fleets-section').hidden = fleetNames.length === 0 && certNames.length === 0;
}

function renderSummary(services, proxies, status) {
  const instances = services.flatMap((s) => s.instances || []);
  const unhealthy = instances.filter((i) => i.health !== 'passing').length;
  const rejectedProxies = proxies.filter((p) => p.state === 'REJECTED').length;
  const rejectedServices = services.filter((s) => s.rejected).length;
  const parts = [
    services.length + ' services', instances.length + ' instances (' + unhealthy + ' not passing)',
    proxies.length + ' proxy streams (' + rejectedProxies + ' rejected)',
  ];
  if (rejectedServices > 0) parts.push(rejectedServices + ' with rejected config');
  if (status) {
    parts.unshift(status.ready ? 'ready' : 'not ready');
    if (status.consul && status.consul.failing) parts.push('Consul failing for ' + status.consul.age);
    const fleets = Object.values(status.fleets || {});
    if (fleets.length > 0) parts.push(fleets.length + ' fleets (' + fleets.filter((f) => f.rejected).length + ' rejected)');
  }
  return parts.join(' · ');
}

let refreshes = 0;

async function refresh() {
  const errorBox = document.getElementById('error');
  try {
    const [services, proxies, status] = await Promise.all([
      getJSON('/v1/services'), getJSON('/v1/proxies'), getJSON('/status').catch(() => null),
    ]);
    proxies.sort((a, b) => a.id.localeCompare(b.id) || a.protocol.localeCompare(b.protocol));
    document.getElementById('services').replaceChildren(...services.map(renderService));
    document.querySelector('#proxies tbody').replaceChildren(...proxies.flatMap(renderProxy));
    document.getElementById('no-proxies').hidden = proxies.length > 0;
    // A /status that failed leaves the last fleets shown.
    if (status) renderFleets(status);
    document.getElementById('summary').textContent = renderSummary(services, proxies, status);
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    errorBox.hidden = true;
    document.body.dataset.refreshes = String(++refreshes);
  } catch (err) {
    errorBox.textContent = 'Cannot reach the admin server: ' + err.message + ' (showing the last answer)';
    errorBox.hidden = false;
  } finally {
    setTimeout(refresh, refreshMillis);
  }
}

refresh();
