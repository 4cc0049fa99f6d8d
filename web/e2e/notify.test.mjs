// A notification sent with `parley notify` appears in the bell, live, and
// can be marked read.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launch, openAs, shoot, pageErrors, desktop, phone } from './harness.mjs';

let server, browser;

before(async () => {
  server = await Server.create('notify');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a notification from parley notify appears in the bell', { timeout: 90000 }, async () => {
  const alice = await openAs(browser, server, 'alice', { register: true });
  assert.equal(await alice.isVisible('#bell-count'), false);

  server.notify('alice', 'Build finished', 'parley#142 passed in 3m 12s.');
  await alice.locator('#bell-count', { hasText: '1' }).waitFor();
  assert.equal(await alice.getAttribute('#bell', 'aria-label'), 'Notifications, 1 unread');

  server.notify('alice', 'New sign-in', 'A new browser signed in to your account.');
  await alice.locator('#bell-count', { hasText: '2' }).waitFor();

  // The inbox lists them newest first, unread.
  await alice.click('#bell');
  await alice.waitForSelector('#inbox:popover-open');
  const titles = await alice.$$eval('#inbox-list .note-title', (els) => els.map((e) => e.textContent));
  assert.deepEqual(titles, ['New sign-in', 'Build finished']);
  assert.equal(await alice.locator('#inbox-list .note.unread').count(), 2);
  await shoot(alice, 'inbox-desktop-light');

  // A click marks one read; the count follows, and the server keeps it.
  await alice.locator('#inbox-list .note', { hasText: 'Build finished' }).click();
  await alice.locator('#bell-count', { hasText: '1' }).waitFor();
  const token = await alice.evaluate(() => localStorage.getItem('parley.token'));
  const res = await server.request('GET', '/v1/notifications', token);
  assert.equal(res.unread, 1);

  await alice.emulateMedia({ colorScheme: 'dark' });
  await alice.setViewportSize(phone);
  await shoot(alice, 'inbox-phone-dark');
  await alice.setViewportSize(desktop);
  await alice.emulateMedia({ colorScheme: 'light' });

  // Escape closes the inbox; after a reload the state is the same.
  await alice.keyboard.press('Escape');
  await alice.waitForSelector('#inbox', { state: 'hidden' });
  await alice.reload();
  await alice.locator('#bell-count', { hasText: '1' }).waitFor();

  // Mark all as read empties the count.
  await alice.click('#bell');
  await alice.click('#inbox-read-all');
  await alice.waitForSelector('#bell-count', { state: 'hidden' });
  await alice.keyboard.press('Escape');

  // Signing out forgets the token and shows the sign-in screen.
  await alice.click('#me-button');
  await alice.click('#logout');
  await alice.waitForSelector('#auth', { state: 'visible' });
  assert.equal(await alice.evaluate(() => localStorage.getItem('parley.token')), null);
  assert.deepEqual(pageErrors(alice), []);
});
