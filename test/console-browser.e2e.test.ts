/**
 * The web console in headless Chromium (Debian's, driven by playwright-core; no browser download)
 * on a 3-node lab: a wrong token is refused, the admin token logs in, every node and tunnel shows
 * with its RTT and loss, and stopping an agent shows up live, without a reload.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { spkiSha256 } from '../core/src/auth/controller-trust';
import { Lab } from '../core/src/lab/lab';

jest.setTimeout(150_000);

let dir: string;
let lab: Lab | null = null;
let browser: Browser | null = null;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-console-e2e-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ controller: { plugins: [{ name: 'alerts-live', config: { evaluateEverySeconds: 1, thresholds: { nodeOfflineForSeconds: 2 } } }] } }));
  lab = await Lab.up({ nodes: 3, configFile: config });
  // The lab serves TLS with its own CA: Chromium trusts exactly the controller's key, nothing else.
  const cert = lab.controllerCertificate();
  const pin = cert ? [`--ignore-certificate-errors-spki-list=${spkiSha256(cert)}`] : [];
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-proxy-server', ...pin] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
});

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    try {
      await lab?.down();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

const NODES = ['n1', 'n2', 'n3'];
const PAIRS = NODES.flatMap((a) => NODES.filter((b) => b !== a).map((b) => [a, b] as const));

test('a wrong token is refused with a visible error', async () => {
  await page.goto(`${lab!.controllerUrl}/console`);
  await page.fill('#token', 'definitely-not-the-admin-token');
  await page.click('#login-submit');
  await page.waitForSelector('#login-error');
  expect(await page.textContent('#login-error')).toMatch(/Wrong admin token/);
  expect(await page.$('#tunnels')).toBeNull();
  expect((await page.context().cookies()).filter((c) => c.name === 'trellis_console')).toEqual([]);
});

test('the admin token logs in; every node and tunnel shows with its figures; an agent stop shows live', async () => {
  const token = readFileSync(join(lab!.describe().controller.dataDir, 'admin.token'), 'utf8').trim();
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(/\/console$/), page.click('#login-submit')]);
  const cookie = (await page.context().cookies()).find((c) => c.name === 'trellis_console')!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  await page.waitForSelector('#live:not(.off)');

  // Every tunnel row has an RTT in ms and a loss in %, every node is in the topology and the table.
  await page.waitForFunction(
    (pairs) =>
      pairs.every(([s, d]) => {
        const row = document.querySelector(`#tunnels tr[data-src="${s}"][data-dst="${d}"]`);
        return row && /\d ms/.test(row.querySelector('.rtt')?.textContent ?? '') && /\d+(\.\d)? %/.test(row.querySelector('.loss')?.textContent ?? '');
      }),
    PAIRS,
    { timeout: 45_000 },
  );
  for (const n of NODES) {
    expect(await page.$(`#topology g.node[data-node="${n}"][data-online="true"]`)).not.toBeNull();
    expect(await page.$(`#nodes tr[data-node="${n}"][data-online="true"]`)).not.toBeNull();
  }
  expect(await page.$$eval('#topology line.edge', (ls) => ls.length)).toBe(3);
  expect(await page.$$eval('#tunnels tbody tr', (rs) => rs.length)).toBe(6);
  const endpoint = await page.textContent('#tunnels tr[data-src="n1"][data-dst="n2"] td:nth-child(3)');
  expect(endpoint).toMatch(/^198\.18\.0\.\d+:\d+$/);
  // Each tunnel's path, from its newest probe: the lab's pairs go direct.
  expect(await page.textContent('#tunnels tr[data-src="n1"][data-dst="n2"] td:nth-child(4)')).toBe('direct');
  expect(await page.getAttribute('#tunnels tr[data-src="n1"][data-dst="n2"]', 'data-path')).toBe('direct');
  expect(await page.isVisible('#alerts-panel')).toBe(true);
  expect(await page.isVisible('#history-panel')).toBe(false);
  expect(await page.textContent('#audit tbody')).toMatch(/console\.login/);

  // Stop n3: the page must follow without a reload (the marker survives only without navigation).
  await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = 1));
  const stoppedAt = Date.now();
  await lab!.stopAgent('n3');
  await page.waitForSelector('#nodes tr[data-node="n3"][data-online="false"]', { timeout: 20_000 });
  await page.waitForFunction(
    () =>
      ['n1', 'n2'].every((s) => document.querySelector(`#tunnels tr[data-src="${s}"][data-dst="n3"]`)?.getAttribute('data-state') === 'down') &&
      document.querySelector('#topology line.edge[data-a="n1"][data-b="n3"]')?.getAttribute('data-state') === 'down',
    undefined,
    { timeout: 20_000 },
  );
  const liveMs = Date.now() - stoppedAt;
  expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
  expect(await page.getAttribute('#tunnels tr[data-src="n1"][data-dst="n2"]', 'data-state')).not.toBe('down');
  // The offline alert shows in the alerts panel once its 2 s "for" has held.
  await page.waitForSelector('#alerts tr[data-uid="trellis-node-offline"][data-state="firing"]', { timeout: 20_000 });

  mkdirSync(join(__dirname, 'artifacts'), { recursive: true });
  await page.screenshot({ path: join(__dirname, 'artifacts', 'console.png'), fullPage: true });
  // eslint-disable-next-line no-console
  console.log(`console-browser: n3 shown down ${liveMs} ms after its agent stopped`);
});
