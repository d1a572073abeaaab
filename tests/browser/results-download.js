// The patient page as a patient uses it: fill the form, get the file; a wrong code is refused.
// Usage: node results-download.js BASE_URL CODE ID_NUMBER WRONG_CODE OUT_DIR
'use strict';
const path = require('path');
const { withBrowser, fail } = require('./browser');

const [base, code, idNumber, wrongCode, outDir] = process.argv.slice(2);

withBrowser(async (page) => {
  await page.goto(`${base}/results`);
  const heading = await page.getByRole('heading', { level: 1 }).textContent();
  if (!/test results/i.test(heading)) return fail(`unexpected heading ${heading}`);
  await page.getByLabel('Download code').fill(code);
  await page.getByLabel('ID number').fill(idNumber);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download' }).click(),
  ]);
  const name = download.suggestedFilename();
  await download.saveAs(path.join(outDir, name));
  console.log(`ok - downloaded ${name}`);

  await page.goto(`${base}/results`);
  await page.getByLabel('Download code').fill(wrongCode);
  await page.getByLabel('ID number').fill(idNumber);
  await Promise.all([
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Download' }).click(),
  ]);
  const alert = await page.getByRole('alert').textContent();
  if (!/do not match/.test(alert)) return fail(`no refusal shown: ${alert}`);
  console.log('ok - a wrong code is refused');
}).catch((e) => fail(e.stack || String(e)));
