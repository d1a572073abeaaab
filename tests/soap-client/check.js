#!/usr/bin/env node
// Independent SOAP client check of Rendez, with the npm package `soap`.
//
// Usage: node check.js WSDL_URL USERNAME PASSWORD
//   WSDL_URL  e.g. http://127.0.0.1:8080/soap?wsdl (the WSDL served by a running Rendez)
//   USERNAME  an API client with the `admin` role
//   PASSWORD  its password
//
// Prints one "ok - ..." line per passing check; exits 0 when all pass,
// 1 (reason on stderr) at the first failure.
'use strict';

const soap = require('soap');

const TIMEOUT_MS = 10000;

function usage() {
  process.stderr.write('usage: node check.js WSDL_URL USERNAME PASSWORD\n');
  process.exit(1);
}

class CheckFailed extends Error {}

function assert(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

// A hard deadline on top of the HTTP timeout, so that nothing can hang CI.
function withDeadline(promise, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new CheckFailed(`${what}: no answer within ${TIMEOUT_MS / 1000} s`)),
      TIMEOUT_MS + 1000,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function asArray(x) {
  if (x === undefined || x === null) return [];
  return Array.isArray(x) ? x : [x];
}

async function makeClient(wsdlUrl, user, pass) {
  const client = await withDeadline(
    soap.createClientAsync(wsdlUrl, { wsdl_options: { timeout: TIMEOUT_MS } }),
    `loading the WSDL from ${wsdlUrl}`,
  );
  client.setSecurity(
    new soap.WSSecurity(user, pass, {
      passwordType: 'PasswordText',
      hasTimeStamp: false,
      hasTokenCreated: false,
    }),
  );
  return client;
}

// Calls client[op + 'Async'] and returns the parsed result (first element of
// the resolved array: [result, rawResponse, soapHeader, rawRequest]).
async function call(client, op, args) {
  const fn = client[`${op}Async`];
  assert(typeof fn === 'function', `the WSDL has no operation ${op}`);
  const [result] = await withDeadline(fn.call(client, args, { timeout: TIMEOUT_MS }), op);
  return result;
}

function describeError(err) {
  if (err instanceof CheckFailed) return err.message;
  const body = err && err.body ? `\n--- response body ---\n${String(err.body).slice(0, 2000)}` : '';
  return `${err && err.message ? err.message : err}${body}`;
}

async function main() {
  const [wsdlUrl, user, pass] = process.argv.slice(2);
  if (!wsdlUrl || !user || pass === undefined) usage();

  const client = await makeClient(wsdlUrl, user, pass);
  console.log('ok - WSDL loaded and client created');

  // 1. updateKeyEntities with two rows (non-ASCII names must survive).
  // Keys in the schema's order (node soap writes them in the order given).
  const row = (activityLid, activityName, duration) => ({
    ACTIVITY_GROUP_LID: 'NODE-G1',
    ACTIVITY_GROUP_NAME: 'General',
    ACTIVITY_LID: activityLid,
    ACTIVITY_NAME: activityName,
    ACTIVITY_PRICE: '35.50',
    ACTIVITY_DURATION: duration,
    LOCATION_LID: 'NODE-C1',
    LOCATION_NAME: 'Node Center',
    RESOURCE_LID: 'NODE-R1',
    RESOURCE_FIRST_NAME: 'Zoë',
    RESOURCE_SECOND_NAME: 'Peña',
    LOCATION_TIMEZONE: 'Europe/Madrid',
    WEB_ENABLED: '1',
    AVAILABILITIES_STEP: '10',
  });
  const upd = await call(client, 'updateKeyEntities', {
    ROW: [row('NODE-A1', 'Consulta', '20'), row('NODE-A2', 'Revisión', '30')],
  });
  assert(upd, 'updateKeyEntities: empty response');
  assert(
    upd.RESULT === 'OK',
    `updateKeyEntities: RESULT is ${JSON.stringify(upd.RESULT)}, expected "OK" ` +
      `(response: ${JSON.stringify(upd)})`,
  );
  assert(
    typeof upd.CREATED === 'number' && upd.CREATED > 0,
    `updateKeyEntities: CREATED is ${JSON.stringify(upd.CREATED)}, expected a number > 0 ` +
      `(response: ${JSON.stringify(upd)})`,
  );
  console.log(`ok - updateKeyEntities: RESULT OK, CREATED ${upd.CREATED}`);

  // 2. getCenters lists the center with its time zone.
  const centersResp = await call(client, 'getCenters', {});
  const centers = asArray(centersResp && centersResp.CENTER);
  const found = centers.find(
    (c) =>
      c &&
      c.CENTER_LID === 'NODE-C1' &&
      c.CENTER_NAME === 'Node Center' &&
      c.TIMEZONE === 'Europe/Madrid',
  );
  assert(
    found,
    'getCenters: no CENTER with CENTER_LID NODE-C1, CENTER_NAME "Node Center", ' +
      `TIMEZONE Europe/Madrid among ${JSON.stringify(centers)}`,
  );
  console.log(`ok - getCenters: NODE-C1 listed among ${centers.length} center(s)`);

  // 2b. updateLocations (a Rendez extension) places the center under a region, given after it.
  const loc = await call(client, 'updateLocations', {
    LOCATION: [
      { LOCATION_LID: 'NODE-C1', LOCATION_NAME: 'Node Center', LOCATION_PARENT_LID: 'NODE-REGION', LOCATION_LEVEL: 'center' },
      { LOCATION_LID: 'NODE-REGION', LOCATION_NAME: 'Región Norte', LOCATION_LEVEL: 'region' },
    ],
  });
  assert(
    loc && loc.RESULT === 'OK' && loc.CREATED === 2,
    `updateLocations: expected RESULT OK and CREATED 2, got ${JSON.stringify(loc)}`,
  );
  console.log('ok - updateLocations: RESULT OK, CREATED 2');

  // 3. A wrong password is refused with a SOAP Fault.
  const badClient = await makeClient(wsdlUrl, user, `${pass}-wrong`);
  let refused = null;
  try {
    const r = await call(badClient, 'getCenters', {});
    throw new CheckFailed(
      `getCenters with a wrong password succeeded: ${JSON.stringify(r)}`,
    );
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    refused = err;
  }
  const fault =
    refused.root && refused.root.Envelope && refused.root.Envelope.Body
      ? refused.root.Envelope.Body.Fault
      : undefined;
  assert(
    fault || /fault/i.test(String(refused.message)),
    `getCenters with a wrong password failed without a SOAP Fault: ${describeError(refused)}`,
  );
  console.log(`ok - getCenters with a wrong password: SOAP Fault (${String(refused.message).split('\n')[0]})`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`not ok - ${describeError(err)}\n`);
    process.exit(1);
  },
);
