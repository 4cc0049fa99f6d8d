// Test harness: builds and runs a real `parley serve` on free loopback
// ports, drives Debian's Chromium through playwright-core, and talks to the
// server over HTTP the way another client would.
//
// Every server a test starts is stopped by its PID when the test file ends
// (and, as a last resort, when the process exits); every wait is bounded.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, existsSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const moduleRoot = resolve(here, '..', '..');
export const screenshotDir = join(here, 'screenshots');

/** Bounds on waits, in milliseconds. */
export const limits = { ready: 45000, stop: 20000, ui: 15000 };

const running = new Set(); // child processes still alive
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

let built = null;

/**
 * parleyBinary returns the path of a parley binary: $PARLEY_BIN when set
 * (the Go test wrapper builds one), else one built here once per process.
 */
export function parleyBinary() {
  if (process.env.PARLEY_BIN) return process.env.PARLEY_BIN;
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'parley-e2e-bin-'));
  const out = join(dir, 'parley');
  execFileSync('go', ['build', '-o', out, './cmd/parley'], { cwd: moduleRoot, stdio: 'inherit', timeout: 300000 });
  built = out;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return out;
}

/** freePort asks the kernel for a loopback port that is free right now. */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Server is one `parley serve` process. start() may be called again after
 * stop() to restart it on the same ports and data folder.
 */
export class Server {
  static async create(name = 'parley') {
    const s = new Server();
    s.name = name;
    s.dir = mkdtempSync(join(tmpdir(), `parley-e2e-${name}-`));
    s.data = join(s.dir, 'data');
    mkdirSync(s.data);
    s.httpPort = await freePort();
    s.kafkaPort = await freePort();
    s.url = `http://127.0.0.1:${s.httpPort}`;
    s.starts = 0;
    await s.start();
    return s;
  }

  async start() {
    this.starts++;
    const log = join(this.dir, `serve-${this.starts}.log`);
    const fd = openSync(log, 'a');
    this.log = log;
    const child = spawn(parleyBinary(), [
      'serve',
      '--http', `127.0.0.1:${this.httpPort}`,
      '--kafka-listen', `127.0.0.1:${this.kafkaPort}`,
      '--data', this.data,
    ], { stdio: ['ignore', fd, fd] });
    this.child = child;
    running.add(child);
    this.exited = new Promise((r) => child.on('exit', (code, sig) => { running.delete(child); r({ code, sig }); }));

    const deadline = Date.now() + limits.ready;
    while (Date.now() < deadline) {
      if (!running.has(child)) throw new Error(`parley serve exited early; log:\n${this.tail()}`);
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) break;
      } catch { /* not listening yet */ }
      await sleep(200);
    }
    if (Date.now() >= deadline) throw new Error(`parley serve not ready in ${limits.ready} ms; log:\n${this.tail()}`);
    this.apiKey = JSON.parse(readFileSync(join(this.data, 'secrets.json'), 'utf8')).api_key;
  }

  /** stop sends SIGTERM to the server's PID and waits for it to exit. */
  async stop() {
    const child = this.child;
    if (!child || !running.has(child)) return;
    process.kill(child.pid, 'SIGTERM');
    const timeout = sleep(limits.stop).then(() => 'timeout');
    if ((await Promise.race([this.exited, timeout])) === 'timeout') {
      process.kill(child.pid, 'SIGKILL');
      await this.exited;
      throw new Error(`parley serve ignored SIGTERM for ${limits.stop} ms`);
    }
  }

  /** close stops the server and removes its folder. */
  async close() {
    try { await this.stop(); } finally {
      if (!process.env.PARLEY_E2E_KEEP) rmSync(this.dir, { recursive: true, force: true });
    }
  }

  tail() {
    try { return readFileSync(this.log, 'utf8').split('\n').slice(-40).join('\n'); } catch { return ''; }
  }

  /** request sends one JSON request with a bearer token and decodes the answer. */
  async request(method, path, token, body) {
    const res = await fetch(this.url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** register signs a user up over HTTP and returns its token. */
  async register(username, password = `pw-${username}-secret`) {
    const res = await fetch(`${this.url}/v1/auth/register`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }), signal: AbortSignal.timeout(10000),
    });
    if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
    return (await res.json()).token;
  }

  /** notify runs the CLI: parley notify --server ... --api-key ... */
  notify(to, title, body) {
    return execFileSync(parleyBinary(), [
      'notify', '--server', this.url, '--api-key', this.apiKey, '--to', to, '--title', title, '--body', body,
    ], { timeout: 20000, encoding: 'utf8' });
  }
}

/** launch starts headless Chromium; PARLEY_CHROMIUM overrides the path. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
}

export const desktop = { width: 1280, height: 800 };
export const phone = { width: 390, height: 844 };

/**
 * openAs opens a fresh browser context on the server's UI and signs in (or
 * up, with register) as the user. Page errors fail the test at the end.
 */
export async function openAs(browser, server, username, { register = false, viewport = desktop, password } = {}) {
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
  context.setDefaultTimeout(limits.ui);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // A refused WebSocket or request while a server restarts is expected
  // and logged by the browser itself; anything else logged as an error is
  // the client's own fault.
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && !/WebSocket connection|Failed to load resource/.test(text)) {
      page.errors.push(`console: ${text}`);
    }
  });
  await page.goto(server.url + '/');
  if (register) await page.click('#auth-switch');
  await page.fill('#auth-user', username);
  await page.fill('#auth-pass', password || `pw-${username}-secret`);
  await page.click('#auth-submit');
  await page.waitForSelector('#shell:not([hidden])');
  await waitLive(page);
  return page;
}

/** waitLive waits until the page's stream says it is live. */
export function waitLive(page, timeout = limits.ui) {
  return page.waitForSelector('#conn[data-state="live"]', { timeout });
}

/** openConversation clicks a conversation in the list by its name. */
export async function openConversation(page, name) {
  await page.locator('#conv-list .conv', { has: page.locator('.conv-name', { hasText: new RegExp(`^${name}$`) }) }).click();
  await page.waitForSelector('#chat-view:not([hidden])');
}

/** renderedMessages returns the confirmed messages shown, in order. */
export function renderedMessages(page) {
  return page.$$eval('#msg-list li.msg[data-id]', (els) => els.map((el) => ({
    id: el.dataset.id, from: el.dataset.from, body: el.querySelector('.text').textContent,
  })));
}

/** send types a message in the composer and presses Enter. */
export async function send(page, text) {
  await page.fill('#compose', text);
  await page.press('#compose', 'Enter');
}

/** waitForText waits until a confirmed message with this body is shown. */
export function waitForMessage(page, text, timeout = limits.ui) {
  return page.locator('#msg-list li.msg[data-id] .text', { hasText: text }).first().waitFor({ timeout });
}

/** shoot saves a screenshot under screenshots/. */
export async function shoot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
}

/** assertNoPageErrors fails if the page threw or logged an error. */
export function pageErrors(...pages) {
  return pages.flatMap((p) => p.errors || []);
}
