// The console's administrator pages in headless Chromium (JavaScript on, so that a CSP
// violation would show): Rosters and Deputy (map an area, resolve a conflict) and API clients
// (add one, its secret shown once); a screenshot of the rosters page.
// Usage: node console_admin.js BASE_URL NAME PASSWORD SCREENSHOT_DIR
// Prints one "ok - ..." or "not ok - ..." line per check, and key=value facts.
'use strict';
const path = require('path');
const { withBrowser, fail } = require('./browser');

function ok(condition, message) {
  if (condition) {
    console.log(`ok - ${message}`);
  } else {
    fail(message);
  }
}

async function main() {
  const [base, name, password, shots] = process.argv.slice(2);
  if (!shots) {
    throw new Error('usage: node console_admin.js BASE_URL NAME PASSWORD SCREENSHOT_DIR');
  }
  await withBrowser(async (page) => {
    const violations = [];
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
    });
    page.on('pageerror', (e) => violations.push(String(e)));

    await page.goto(`${base}/console/login`);
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Password').fill(password);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
    ok(page.url().endsWith('/console/overview'), 'signed in');
    ok((await page.$$('#deputy-open')).length === 1, 'the overview counts the Deputy errors and conflicts');

    // Rosters and Deputy, from the overview's link.
    await Promise.all([page.waitForNavigation(), page.click('#deputy-open a[href$="#conflicts"]')]);
    ok((await page.textContent('h1')) === 'Rosters and Deputy', 'the rosters page opens');
    const before = (await page.$$('#conflicts tbody tr')).length;
    console.log(`conflicts.before=${before}`);
    await page.screenshot({ path: path.join(shots, 'rosters.png'), fullPage: true });
    await page.getByLabel('Center or area (CENTER_LID or CENTER_LID/AREA)').fill('C1');
    await page.getByLabel('Deputy operational unit id').fill('42');
    await Promise.all([page.waitForNavigation(), page.click('#map-area')]);
    ok((await page.textContent('#done')).includes('The area is mapped'), 'the area is mapped');
    ok((await page.textContent('#units')).includes('42'), 'the mapping is listed');
    await Promise.all([page.waitForNavigation(), page.click('button.resolve-conflict')]);
    ok((await page.textContent('#done')).includes('conflict is marked resolved'), 'the conflict is resolved');
    const after = (await page.$$('#conflicts tbody tr')).length;
    console.log(`conflicts.after=${after}`);

    // API clients: add one; its secret is shown once.
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'API clients' }).click()]);
    ok((await page.textContent('h1')) === 'API clients', 'the clients page opens');
    await page.getByLabel('Name (letters, digits').fill('browser-client');
    await page.getByLabel('booking').check();
    await page.getByLabel('Locations it may change (LIDs, comma-separated)').fill('C1');
    await Promise.all([page.waitForNavigation(), page.click('#add')]);
    const secret = (await page.textContent('#secret')) || '';
    console.log(`secret.length=${secret.length}`);
    ok(secret.length >= 24, 'the new secret is shown');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Back to the clients' }).click()]);
    const listed = await page.textContent('#clients');
    ok(listed.includes('browser-client') && !listed.includes(secret), 'the client is listed, its secret is not');

    console.log(`violations=${violations.join(' | ')}`);
    ok(violations.length === 0, 'no CSP violation or page error');
  });
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
