// Two people chat live in two browser contexts; history survives a reload
// and scrolls back in pages; the UI is shot in light and dark, on a desktop
// and a phone.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, launch, openAs, send, waitForMessage, renderedMessages, openConversation,
  shoot, pageErrors, desktop, phone, waitLive,
} from './harness.mjs';

let server, browser;
const pages = [];

before(async () => {
  server = await Server.create('chat');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('alice and bob chat live', { timeout: 120000 }, async () => {
  const alice = await openAs(browser, server, 'alice', { register: true });
  const bob = await openAs(browser, server, 'bob', { register: true });
  pages.push(alice, bob);

  // Alice finds bob by name and writes first.
  await alice.click('#new-dm');
  await alice.fill('#dm-search', 'bo');
  await alice.locator('#dm-results [role=option]', { hasText: 'bob' }).click();
  await alice.waitForSelector('#chat-view:not([hidden])');
  assert.equal(await alice.textContent('#chat-name'), 'bob');
  await send(alice, 'Hi Bob! Lunch at noon?');
  await waitForMessage(alice, 'Lunch at noon?');

  // Bob's list gets the conversation live, with an unread count.
  const unread = bob.locator('#conv-list .conv.unread', { hasText: 'alice' });
  await unread.locator('.unread-count', { hasText: '1' }).waitFor();
  await openConversation(bob, 'alice');
  await waitForMessage(bob, 'Lunch at noon?');
  await bob.locator('#conv-list .conv.unread').waitFor({ state: 'detached' });
  // Viewing marked it read on the server too.
  const bobToken = await bob.evaluate(() => localStorage.getItem('parley.token'));
  for (let i = 0; i < 20; i++) {
    const { conversations } = await server.request('GET', '/v1/conversations', bobToken);
    if (conversations.find((c) => c.peer === 'alice')?.unread === 0) break;
    assert.ok(i < 19, 'the server still counts the DM as unread');
    await bob.waitForTimeout(200);
  }

  // Shift+Enter makes a new line; Enter sends.
  await bob.fill('#compose', 'Sounds good.');
  await bob.press('#compose', 'Shift+Enter');
  await bob.type('#compose', 'See you there');
  assert.equal(await bob.inputValue('#compose'), 'Sounds good.\nSee you there');
  await bob.press('#compose', 'Enter');
  assert.equal(await bob.inputValue('#compose'), '');
  await waitForMessage(alice, 'See you there');

  // Own messages are marked as such on each side, and times are shown.
  const onAlice = await renderedMessages(alice);
  assert.deepEqual(onAlice.map((m) => m.body), ['Hi Bob! Lunch at noon?', 'Sounds good.\nSee you there']);
  assert.deepEqual(await alice.$$eval('#msg-list li.msg', (els) => els.map((e) => e.classList.contains('mine'))), [true, false]);
  assert.deepEqual(await bob.$$eval('#msg-list li.msg', (els) => els.map((e) => e.classList.contains('mine'))), [false, true]);
  assert.equal(await alice.locator('#msg-list li.msg time.msg-time').count(), 2);

  // A little more conversation for the screenshots.
  for (const [who, text] of [
    [alice, 'Perfect. The ramen place on 5th?'],
    [bob, 'Yes! I will book a table for two.'],
    [alice, 'Great — I might be 5 minutes late, the standup tends to run over.'],
    [alice, 'See you at noon.'],
  ]) {
    await send(who, text);
    await waitForMessage(who === alice ? bob : alice, text);
  }
  assert.deepEqual(pageErrors(alice, bob), []);
});

test('a reload keeps the history', { timeout: 60000 }, async () => {
  const [alice] = pages;
  const before = await renderedMessages(alice);
  await alice.reload();
  await waitLive(alice);
  await waitForMessage(alice, 'See you at noon.');
  const afterReload = await renderedMessages(alice);
  assert.deepEqual(afterReload, before);

  // It matches the server's history, in order.
  const token = await alice.evaluate(() => localStorage.getItem('parley.token'));
  const { messages } = await server.request('GET', '/v1/dm/bob/messages?limit=100', token);
  assert.deepEqual(afterReload.map((m) => m.id), messages.map((m) => m.id));
});

test('escape closes a dialog and focus is visible', { timeout: 30000 }, async () => {
  const [alice] = pages;
  await alice.click('#new-group');
  assert.equal(await alice.$eval('#dlg-group', (d) => d.open), true);
  assert.equal(await alice.evaluate(() => document.activeElement.id), 'group-name');
  await alice.keyboard.press('Escape');
  assert.equal(await alice.$eval('#dlg-group', (d) => d.open), false);

  // Tab from the search box reaches the New message button.
  await alice.focus('#conv-filter');
  await alice.keyboard.press('Tab');
  assert.equal(await alice.evaluate(() => document.activeElement.id), 'new-dm');
});

test('scrolling up loads older history', { timeout: 90000 }, async () => {
  const [alice] = pages;
  const carolToken = await server.register('carol');
  for (let i = 1; i <= 130; i++) {
    await server.request('POST', '/v1/dm/alice/messages', carolToken, { body: `carol #${i}`, client_id: `carol-${i}` });
  }
  // Reload, so the page knows only what history gives it, not the live events.
  await alice.reload();
  await waitLive(alice);
  await openConversation(alice, 'carol');
  await waitForMessage(alice, 'carol #130');
  const first = (await renderedMessages(alice)).length;
  assert.ok(first < 130, `the first page holds ${first} messages, want fewer than 130`);

  // Scroll to the top until everything is there; bounded.
  for (let i = 0; i < 10 && (await renderedMessages(alice)).length < 130; i++) {
    await alice.$eval('#scroller', (s) => { s.scrollTop = 0; });
    await alice.waitForTimeout(400);
  }
  const all = await renderedMessages(alice);
  assert.deepEqual(all.map((m) => m.body), Array.from({ length: 130 }, (_, i) => `carol #${i + 1}`));
  await alice.locator('#history-status', { hasText: 'beginning of the conversation' }).waitFor();
});

test('screenshots: light and dark, desktop and phone', { timeout: 60000 }, async () => {
  const [alice] = pages;
  await openConversation(alice, 'bob');
  await waitForMessage(alice, 'See you at noon.');
  for (const scheme of ['light', 'dark']) {
    await alice.emulateMedia({ colorScheme: scheme });
    await alice.setViewportSize(desktop);
    await alice.evaluate(() => document.getElementById('scroller').scrollTo(0, 1e9));
    await shoot(alice, `chat-desktop-${scheme}`);

    await alice.setViewportSize(phone);
    await alice.evaluate(() => document.getElementById('scroller').scrollTo(0, 1e9));
    await shoot(alice, `chat-phone-${scheme}`);
    // On a phone the list is its own screen, reached with Back.
    assert.equal(await alice.isVisible('#conv-list'), false);
    await alice.click('#back');
    await alice.waitForSelector('#conv-list', { state: 'visible' });
    assert.equal(await alice.isVisible('#chat-view'), false);
    await shoot(alice, `list-phone-${scheme}`);
    await openConversation(alice, 'bob');
  }
  await alice.setViewportSize(desktop);
  await alice.emulateMedia({ colorScheme: 'light' });

  // The sign-in screen too.
  const ctx = await browser.newContext({ viewport: desktop });
  const p = await ctx.newPage();
  await p.goto(server.url + '/');
  await p.waitForSelector('#auth:not([hidden])');
  await shoot(p, 'signin-desktop-light');
  await ctx.close();
  assert.deepEqual(pageErrors(...pages), []);
});
