// Launches the system Chromium headless with a fresh profile; shared by every script here.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

async function withBrowser(work) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rendez-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(20000);
    await work(page);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

function fail(message) {
  console.log(`not ok - ${message}`);
  process.exitCode = 1;
}

module.exports = { withBrowser, fail };
