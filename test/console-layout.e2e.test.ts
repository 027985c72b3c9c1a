/// <reference lib="dom" />
/**
 * The console's layout in headless Chromium (Debian's, driven by playwright-core): at 1400×900 and
 * at 1024×768 every table fits its card with every column visible, and the topology drawing fills
 * its card. The page comes from a real controller after a real login; only the live snapshot is a
 * fixture (test/fixtures/console-crowded: 8 nodes, long posture reasons, 12 active alerts, a
 * relayed path, exit nodes in use, one on its fallback with the reason), pushed over the page's own
 * event stream.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startController, type RunningController } from '../core/src/controller/controller';

jest.setTimeout(120_000);

const TOKEN = 'Cl7-layout_Q4x9ZvT2mWk8RbN3pHs6YdJf5LgA1eU0oXc';
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'console-crowded', 'snapshot.json'), 'utf8')) as {
  at: number;
  nodes: Array<{ name: string }>;
  paths: Array<{ src: string; dst: string; path: string | null }>;
};
const ARTIFACTS = join(__dirname, 'artifacts');
/** Set CONSOLE_LAYOUT_SHOT=before to keep screenshots of the layout under a different name. */
const SHOT = process.env.CONSOLE_LAYOUT_SHOT ?? 'after';

/** The snapshot the page's event stream carries; a test may swap it and reload. */
let current: unknown = FIXTURE;
let dir: string;
let profile: string;
let controller: RunningController | null = null;
let context: BrowserContext | null = null;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-console-layout-'));
  profile = mkdtempSync(join(tmpdir(), 'trellis-chromium-profile-'));
  controller = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), log: pino({ level: 'silent' }), adminToken: TOKEN });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--headless', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1400, height: 900 },
  });
  // The crowded snapshot stands in for the controller's live one; everything else is the real page.
  await context.route('**/console/api/events', (route) =>
    route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }, body: `event: snapshot\ndata: ${JSON.stringify(current)}\n\n` }),
  );
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${controller.url}/console`);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(/\/console$/), page.click('#login-submit')]);
  await page.waitForFunction((at) => document.body.getAttribute('data-snapshot-at') === String(at), FIXTURE.at);
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  try {
    await context?.close();
  } finally {
    await controller?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
});

interface TableFit {
  table: string;
  card: string;
  cardScroll: [number, number];
  /** Header cells whose right edge falls outside the card's content box, with how far. */
  cutHeaders: string[];
  /** Cells (any row) that stick out of the card. */
  cutCells: number;
}

/** tableFits measures every visible table against its card (the .panel around it). */
function tableFits(p: Page): Promise<{ page: [number, number]; tables: TableFit[] }> {
  return p.evaluate(() => {
    const tables: TableFit[] = [];
    for (const table of Array.from(document.querySelectorAll('main table'))) {
      if (!(table instanceof HTMLTableElement) || table.offsetParent === null) continue;
      const card = table.closest('.panel') as HTMLElement;
      const c = card.getBoundingClientRect();
      const cs = getComputedStyle(card);
      const right = c.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight) + 0.5;
      const left = c.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft) - 0.5;
      const outside = (el: Element) => {
        const r = el.getBoundingClientRect();
        return r.right > right || r.left < left || r.width <= 0;
      };
      let scroller: HTMLElement | null = table.parentElement;
      const scrolls: Array<[number, number]> = [[card.scrollWidth, card.clientWidth]];
      while (scroller && scroller !== card) {
        scrolls.push([scroller.scrollWidth, scroller.clientWidth]);
        scroller = scroller.parentElement;
      }
      const worst = scrolls.reduce((a, b) => (b[0] - b[1] > a[0] - a[1] ? b : a));
      tables.push({
        table: table.id,
        card: card.id,
        cardScroll: worst,
        cutHeaders: Array.from(table.tHead?.rows[0]?.cells ?? [])
          .filter(outside)
          .map((th) => `${th.textContent} (+${Math.round(th.getBoundingClientRect().right - right)} px)`),
        cutCells: Array.from(table.querySelectorAll('td')).filter(outside).length,
      });
    }
    return { page: [document.documentElement.scrollWidth, window.innerWidth] as [number, number], tables };
  });
}

interface TopologyFit {
  card: { w: number; h: number };
  svg: { w: number; h: number };
  drawing: { w: number; h: number };
  nodesInside: boolean;
  labels: Array<{ text: string; a: string; b: string }>;
  nodes: number;
}

function topologyFit(p: Page): Promise<TopologyFit> {
  return p.evaluate(() => {
    const card = document.getElementById('topology-panel')!;
    const svg = document.getElementById('topology') as unknown as SVGSVGElement;
    const c = card.getBoundingClientRect();
    const s = svg.getBoundingClientRect();
    const nodes = Array.from(svg.querySelectorAll('g.node')).map((g) => g.getBoundingClientRect());
    const minX = Math.min(...nodes.map((r) => r.left));
    const maxX = Math.max(...nodes.map((r) => r.right));
    const minY = Math.min(...nodes.map((r) => r.top));
    const maxY = Math.max(...nodes.map((r) => r.bottom));
    return {
      card: { w: c.width, h: c.height },
      svg: { w: s.width, h: s.height },
      drawing: { w: maxX - minX, h: maxY - minY },
      nodesInside: nodes.every((r) => r.left >= s.left - 0.5 && r.right <= s.right + 0.5 && r.top >= s.top - 0.5 && r.bottom <= s.bottom + 0.5),
      labels: Array.from(svg.querySelectorAll('text.path-label')).map((t) => ({ text: t.textContent ?? '', a: t.getAttribute('data-a') ?? '', b: t.getAttribute('data-b') ?? '' })),
      nodes: nodes.length,
    };
  });
}

for (const [width, height] of [
  [1400, 900],
  [1024, 768],
] as const) {
  test(`at ${width}×${height} every table fits its card with every column visible, and the topology fills its card`, async () => {
    await page.setViewportSize({ width, height });
    // Let layout and the topology's resize redraw settle.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.waitForTimeout(300);
    // What the screen shows, and the whole page.
    await page.screenshot({ path: join(ARTIFACTS, `console-layout-${SHOT}-${width}x${height}.png`) });
    await page.screenshot({ path: join(ARTIFACTS, `console-layout-${SHOT}-${width}x${height}-full.png`), fullPage: true });

    const fit = await tableFits(page);
    // eslint-disable-next-line no-console
    console.log(`${width}×${height}: ${fit.tables.map((t) => `${t.table} ${t.cardScroll[0]}/${t.cardScroll[1]}${t.cutHeaders.length ? ` cut: ${t.cutHeaders.join(', ')}` : ''}`).join('; ')}`);
    expect(fit.tables.map((t) => t.table).sort()).toEqual(['alerts', 'alerts-recent', 'audit', 'nodes', 'tunnels']);
    for (const t of fit.tables) {
      expect({ table: t.table, cutHeaders: t.cutHeaders, cutCells: t.cutCells }).toEqual({ table: t.table, cutHeaders: [], cutCells: 0 });
      expect(t.cardScroll[0]).toBeLessThanOrEqual(t.cardScroll[1]);
    }
    expect(fit.page[0]).toBeLessThanOrEqual(fit.page[1]);
    // The content is all there: 8 nodes, 56 tunnels, 12 active alerts, long reasons.
    expect(await page.$$eval('#nodes tbody tr', (r) => r.length)).toBe(8);
    expect(await page.$$eval('#tunnels tbody tr', (r) => r.length)).toBe(56);
    expect(await page.$$eval('#alerts tbody tr', (r) => r.length)).toBe(12);
    expect(await page.textContent('#nodes tr[data-node="n5"] td.reasons')).toContain('remote-desktop-assistance-agent-with-a-very-long-name');
    expect(await page.textContent('#nodes tr[data-node="n1"] td.exit')).toContain('via n8 (fallback for n7)');
    expect(await page.textContent('#nodes tr[data-node="n8"] td.exit')).toContain('offers exit: approved used by n1');
    expect(await page.$$eval('#tunnels tr[data-exit="true"]', (r) => r.length)).toBe(2);

    const topo = await topologyFit(page);
    // eslint-disable-next-line no-console
    console.log(`${width}×${height}: topology card ${Math.round(topo.card.w)}×${Math.round(topo.card.h)}, drawing ${Math.round(topo.svg.w)}×${Math.round(topo.svg.h)}, nodes span ${Math.round(topo.drawing.w)}×${Math.round(topo.drawing.h)}`);
    expect(topo.nodes).toBe(8);
    expect(topo.nodesInside).toBe(true);
    // The drawing takes the card (less its title and legend), and the nodes spread over the drawing.
    expect(topo.svg.w * topo.svg.h).toBeGreaterThanOrEqual(0.6 * topo.card.w * topo.card.h);
    expect(topo.drawing.w).toBeGreaterThanOrEqual(0.75 * topo.svg.w);
    expect(topo.drawing.h).toBeGreaterThanOrEqual(0.75 * topo.svg.h);
    // The relayed pair is labelled with its path; direct edges are not cluttered with a label.
    expect(topo.labels).toEqual([{ text: 'via n3', a: 'n2', b: 'n6' }]);
  });
}

test('a 3-node mesh fills the drawing too (an odd ring leaves no empty band), at both sizes', async () => {
  const three = new Set(['n1', 'n2', 'n3']);
  const small = {
    ...FIXTURE,
    at: FIXTURE.at + 1,
    nodes: FIXTURE.nodes.filter((n) => three.has(n.name)),
    paths: FIXTURE.paths.filter((p) => three.has(p.src) && three.has(p.dst)),
  };
  current = small;
  await page.reload();
  await page.waitForFunction((at) => document.body.getAttribute('data-snapshot-at') === String(at), small.at);
  for (const [width, height] of [
    [1400, 900],
    [1024, 768],
  ] as const) {
    await page.setViewportSize({ width, height });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.waitForTimeout(300);
    const topo = await topologyFit(page);
    // eslint-disable-next-line no-console
    console.log(`3 nodes at ${width}×${height}: drawing ${Math.round(topo.svg.w)}×${Math.round(topo.svg.h)}, nodes span ${Math.round(topo.drawing.w)}×${Math.round(topo.drawing.h)}`);
    expect(topo.nodes).toBe(3);
    expect(topo.nodesInside).toBe(true);
    expect(topo.drawing.w).toBeGreaterThanOrEqual(0.75 * topo.svg.w);
    expect(topo.drawing.h).toBeGreaterThanOrEqual(0.75 * topo.svg.h);
    expect(topo.labels).toEqual([]);
  }
  await page.screenshot({ path: join(ARTIFACTS, `console-layout-${SHOT}-3-nodes-1024x768.png`) });
});
