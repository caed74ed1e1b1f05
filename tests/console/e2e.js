// Drives the mailsift support console in Debian's headless Chromium with playwright-core.
// Run by tests/console/run.sh, which starts mailsiftd with seeded tenants and traffic and passes:
//   CONSOLE_URL, CONSOLE_KEY (reseller key), OTHER_DECISION (a decision of another reseller),
//   SEED_USER, SEED_SENDER, SEED_SUBJECT, SEED_AT (local time), SEED_TZ, BOUNCE_FILE,
//   ARTIFACTS (screenshot directory), MAILSIFT_E2E_SKIP_CASE=1 to skip the case-lookup step.
// Every step checks real page content; a failed check throws (exit 1). Screenshots of every page
// are written to ARTIFACTS/NN-name.png and their paths printed.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing env ${name}`);
  return v;
};
const URL = env('CONSOLE_URL');
const ARTIFACTS = env('ARTIFACTS');
let shot = 0;
let passed = 0;

function check(name, ok, detail) {
  if (!ok) throw new Error(`FAIL: ${name}${detail ? ` (${detail})` : ''}`);
  passed++;
  console.log(`ok: ${name}`);
}

async function screenshot(page, name) {
  shot++;
  const file = path.join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Containers often run as root without user namespaces.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const blocked = [];
  // Everything must come from mailsiftd itself: no CDN, nothing external.
  page.on('request', (r) => {
    if (!r.url().startsWith(URL) && !r.url().startsWith('data:')) blocked.push(r.url());
  });
  const text = async () => page.locator('main').innerText();

  // 1. Login.
  await page.goto(`${URL}/console/`);
  check('unauthenticated visit lands on the login page', page.url().endsWith('/console/login'));
  await screenshot(page, 'login');
  await page.fill('#f-key', 'msk_not_a_key');
  await page.click('#login');
  check('wrong key is refused', (await text()).includes('Unknown API key'));
  await page.click('#retry');
  await page.fill('#f-key', env('CONSOLE_KEY'));
  await page.click('#login');
  check('login leads to the dashboard', (await page.title()).startsWith('Dashboard'));
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'msc_session');
  check('session cookie is HttpOnly and SameSite=Strict',
        session && session.httpOnly && session.sameSite === 'Strict');

  // 2. Dashboard with charts.
  const dash = await text();
  check('dashboard counts the seeded decisions', /[1-9]\d* decisions, [1-9]\d* recipients/.test(dash), dash.slice(0, 200));
  check('dashboard draws three SVG charts', (await page.locator('main svg').count()) === 3);
  check('per-hour chart has bars', (await page.locator('main svg rect.bar').count()) > 0);
  await screenshot(page, 'dashboard');

  // 3. Decision search with a time zone.
  await page.click('a[href="/console/decisions"]');
  await page.fill('#f-user', env('SEED_USER'));
  await page.fill('#f-from', '2000-01-01 00:00');
  await page.selectOption('#f-tz', env('SEED_TZ'));
  await page.click('#search-button');
  let body = await text();
  check('search reports times in the chosen zone', body.includes(`(times in ${env('SEED_TZ')})`));
  check('search finds the seeded spam', body.includes(env('SEED_SUBJECT')));
  const abbrev = await page.locator('#results tr.decision td').first().innerText();
  check('result time is local to the zone', /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+/.test(abbrev), abbrev);
  check('other reseller\'s traffic is not listed', !body.includes('eve@other.test'));
  await screenshot(page, 'decisions');

  // 4. One decision's explanation.
  await page.locator('#results tr.decision', { hasText: env('SEED_SUBJECT') }).locator('a.explain').click();
  body = await text();
  check('explanation shows the envelope sender', body.includes(env('SEED_SENDER')));
  check('explanation shows the recipient action and score', /Action\s+(add header|reject|no action|rewrite subject|soft reject)/.test(body));
  const symbols = await page.locator('table.symbols tr').count();
  check('explanation lists symbols with weights', symbols > 1, `${symbols - 1} symbols`);
  await screenshot(page, 'explanation');

  // 5. Train from history.
  await page.locator('button.train-spam').first().click();
  body = await text();
  check('train from history reports to the feedback service', body.includes('Reported decision') && body.includes(env('SEED_USER')), body.slice(0, 300));
  check('feedback response is rendered', body.includes('user_outcome'));
  await screenshot(page, 'trained');

  // A reseller cannot open another reseller's decision.
  const other = await page.goto(`${URL}/console/decision?id=${encodeURIComponent(env('OTHER_DECISION'))}`);
  check('another reseller\'s decision is 404', other.status() === 404 && (await text()).includes('that you may see'));

  // 6. Bounce diagnosis (pasted).
  await page.click('a[href="/console/bounce"]');
  await page.fill('#f-message', fs.readFileSync(env('BOUNCE_FILE'), 'utf8'));
  await page.click('#diagnose');
  body = await text();
  check('bounce diagnosis names the reason and advice', /Reason\s+userunknown/.test(body) && body.includes('bob@example.net') && body.includes('For support'), body.slice(0, 300));
  await screenshot(page, 'bounce');

  // 7. The user's effective policy and lists.
  await page.click('a[href="/console/user"]');
  await page.fill('#f-user', env('SEED_USER'));
  await page.click('#show');
  body = await text();
  check('policy shows provenance (domain override, global default)',
        /spam score\s+5\.5\s+domain:example\.org/.test(body) && /spam action\s+folder\s+global:config/.test(body),
        body.slice(0, 400));
  check('lists show the seeded block entry', body.includes('blocked.example'));
  await screenshot(page, 'user-policy');

  // 8. Case lookup on the seeded traffic.
  await page.click('a[href="/console/case"]');
  await page.fill('#f-user', env('SEED_USER'));
  await page.fill('#f-reseller', env('SEED_RESELLER'));
  await page.fill('#f-at', env('SEED_AT'));
  await page.selectOption('#f-tz', env('SEED_TZ'));
  await page.fill('#f-window', '2h');
  await page.click('#lookup');
  body = await text();
  await screenshot(page, 'case');
  if (process.env.MAILSIFT_E2E_SKIP_CASE === '1') {
    console.log(`skip: case lookup report (MAILSIFT_E2E_SKIP_CASE=1); page says: ${body.split('\n').slice(-1)[0].slice(0, 160)}`);
  } else {
    check('case lookup report shows the seeded message',
          (await page.locator('#report').count()) === 1 && body.includes(env('SEED_SUBJECT')),
          body.slice(0, 400));
  }

  // 9. Domain doctor page renders (its checks need the doctor API and DNS; not judged here).
  await page.click('a[href="/console/doctor"]');
  check('doctor page has its form', (await page.locator('#check').count()) === 1);
  await screenshot(page, 'doctor');

  // 10. Logout ends the session.
  await page.click('#logout');
  check('logout returns to the login page', page.url().endsWith('/console/login'));
  await page.goto(`${URL}/console/decisions`);
  check('after logout pages need a login again', page.url().endsWith('/console/login'));
  check('no request left mailsiftd', blocked.length === 0, blocked.join(' '));

  await browser.close();
  console.log(`console e2e: ${passed} checks passed, ${shot} screenshots in ${ARTIFACTS}`);
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
