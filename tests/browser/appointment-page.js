// Opens a patient's appointment page in headless Chromium, reads what it shows, presses a button
// (confirm or cancel) like a patient would, and prints what the browser saw, one key=value a line.
// Usage: node appointment-page.js URL confirm|cancel
const { chromium } = require('playwright-core');

async function main() {
  const [url, action] = process.argv.slice(2);
  if (!url || !['confirm', 'cancel'].includes(action)) {
    throw new Error('usage: node appointment-page.js URL confirm|cancel');
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    // JavaScript off: the page must work without it.
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const violations = [];
    page.on('console', (msg) => violations.push(msg.text()));
    const response = await page.goto(url);
    const before = {
      status: response.status(),
      date: await page.textContent('#date'),
      time: await page.textContent('#time'),
      state: await page.textContent('#status'),
      buttons: await page.$$eval('button', (bs) => bs.map((b) => b.id)),
    };
    await Promise.all([page.waitForNavigation(), page.click('#' + action)]);
    const after = {
      message: await page.textContent('#message'),
      state: await page.textContent('#status'),
      buttons: await page.$$eval('button', (bs) => bs.map((b) => b.id)),
    };
    // One "key=value" line each, for the Rust test to read without a JSON parser.
    const lines = [];
    for (const [prefix, seen] of [['before', before], ['after', after]]) {
      for (const [key, value] of Object.entries(seen)) {
        lines.push(`${prefix}.${key}=${Array.isArray(value) ? value.join(',') : value}`);
      }
    }
    lines.push(`console=${violations.join(' | ')}`);
    console.log(lines.join('\n'));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
