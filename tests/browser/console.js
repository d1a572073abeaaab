// The operator console in headless Chromium (JavaScript on, as an operator's browser has it,
// so that a CSP violation would show): sign in, search appointments by patient, open the
// timeline, requeue its failed message; screenshots of the overview and the timeline.
// Usage: node console.js BASE_URL NAME PASSWORD PATIENT SCREENSHOT_DIR
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
  const [base, name, password, patient, shots] = process.argv.slice(2);
  if (!shots) {
    throw new Error('usage: node console.js BASE_URL NAME PASSWORD PATIENT SCREENSHOT_DIR');
  }
  await withBrowser(async (page) => {
    const violations = [];
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
    });
    page.on('pageerror', (e) => violations.push(String(e)));

    // Signed out, the console sends to its sign-in form.
    await page.goto(`${base}/console/overview`);
    ok(page.url().endsWith('/console/login'), 'signed out, the overview sends to sign-in');
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Password').fill(password);
    const [signedIn] = await Promise.all([
      page.waitForNavigation(),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    ok(page.url().endsWith('/console/overview'), 'signed in, the overview opens');
    const csp = (await signedIn.allHeaders())['content-security-policy'] || '';
    console.log(`csp=${csp}`);
    ok(csp.includes("default-src 'none'") && csp.includes("frame-ancestors 'none'"), 'the overview carries the CSP');
    ok((await page.textContent('h1')) === 'Overview', 'the overview heading');
    // The stylesheet applies under the CSP (the header is laid out by it).
    const display = await page.$eval('header', (h) => getComputedStyle(h).display);
    ok(display === 'flex', `the stylesheet applies (header display ${display})`);
    ok((await page.$$('script')).length === 0, 'no script on the overview');
    ok((await page.$$('#hours-chart')).length === 1, 'the chart is drawn');
    await page.screenshot({ path: path.join(shots, 'overview.png'), fullPage: true });

    // Search appointments by patient, open the timeline.
    await page.getByRole('link', { name: 'Appointments' }).click();
    await page.getByLabel('Patient (LID or name)').fill(patient);
    await Promise.all([page.waitForNavigation(), page.click('#search')]);
    const rows = await page.$$eval('#appointments tbody tr', (trs) => trs.map((tr) => tr.textContent));
    console.log(`rows=${rows.length}`);
    ok(rows.length === 1 && rows[0].includes(patient), 'the search finds the one appointment');
    await Promise.all([page.waitForNavigation(), page.click('a.timeline-link')]);
    ok((await page.textContent('h1')) === 'Appointment timeline', 'the timeline opens');
    const stateBefore = await page.textContent('.message-state');
    console.log(`state.before=${stateBefore}`);
    await page.screenshot({ path: path.join(shots, 'timeline.png'), fullPage: true });

    // Requeue the failed message.
    await Promise.all([page.waitForNavigation(), page.click('button.requeue')]);
    const done = await page.textContent('#done');
    ok(done.includes('queued again'), 'the requeue is confirmed');
    const stateAfter = await page.textContent('.message-state');
    console.log(`state.after=${stateAfter}`);
    ok(stateAfter === 'QUEUED', 'the message is queued again');

    // Sign out.
    await Promise.all([page.waitForNavigation(), page.click('#signout')]);
    ok(page.url().endsWith('/console/login'), 'signed out');
    console.log(`violations=${violations.join(' | ')}`);
    ok(violations.length === 0, 'no CSP violation or page error');
  });
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
