import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertEvent } from './alert-state';
import { RETRY_DEFAULTS } from './config';
import { DeliveryLog } from './delivery-log';
import { backoffMs, WebhookNotifier } from './webhook-notifier';

interface Received {
  at: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

let server: Server;
let url: string;
let received: Received[];
let answers: number[];
let dir: string;

beforeEach(async () => {
  received = [];
  answers = [];
  dir = mkdtempSync(join(tmpdir(), 'alerts-webhook-'));
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ at: Date.now(), body, headers: req.headers });
      res.writeHead(answers.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const event = (status: 'firing' | 'resolved'): AlertEvent => ({
  status,
  alert: { uid: 'trellis-node-offline', title: 'Node offline', labels: { node: 'n3' }, value: 12, threshold: 0, startsAt: '2025-01-01T00:00:00.000Z', ...(status === 'resolved' ? { endsAt: '2025-01-01T00:01:00.000Z' } : {}) },
});

test('backoff doubles from initialDelayMs and is capped', () => {
  const r = { ...RETRY_DEFAULTS, initialDelayMs: 100, maxDelayMs: 450 };
  expect([1, 2, 3, 4].map((a) => backoffMs(r, a))).toEqual([100, 200, 400, 450]);
});

test('a failing receiver is retried with backoff until it answers; every attempt is logged and signed', async () => {
  answers = [500, 503];
  const file = join(dir, 'alerts-live', 'deliveries.jsonl');
  const log = new DeliveryLog(file);
  const n = new WebhookNotifier({ webhooks: [{ url, secret: 's3cret' }], retry: { ...RETRY_DEFAULTS, initialDelayMs: 100, maxDelayMs: 1000 }, log });
  n.notify(event('firing'));
  n.notify(event('resolved'));
  await n.idle();
  expect(received).toHaveLength(4);
  expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(95);
  expect(received[2]!.at - received[1]!.at).toBeGreaterThanOrEqual(195);
  // In order: the firing (3 tries) before the resolve.
  expect(received.map((r) => JSON.parse(r.body).status)).toEqual(['firing', 'firing', 'firing', 'resolved']);
  const first = received[0]!;
  expect(JSON.parse(first.body)).toEqual(event('firing'));
  expect(first.headers['content-type']).toBe('application/json');
  expect(first.headers['x-trellis-signature']).toBe(`sha256=${createHmac('sha256', 's3cret').update(first.body).digest('hex')}`);
  const entries = log.list();
  expect(entries.map((e) => [e.status, e.attempt, e.outcome, e.httpStatus])).toEqual([
    ['resolved', 1, 'delivered', 200],
    ['firing', 3, 'delivered', 200],
    ['firing', 2, 'failed', 503],
    ['firing', 1, 'failed', 500],
  ]);
  expect(entries[3]!.retryInMs).toBe(100);
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatchObject({ status: 'firing', attempt: 1, outcome: 'failed', error: 'HTTP 500', url });
});

test('retries are bounded: after maxAttempts it gives up; a 4xx refusal is not retried', async () => {
  answers = [500, 500, 500, 400];
  const log = new DeliveryLog(null);
  const n = new WebhookNotifier({ webhooks: [{ url }], retry: { ...RETRY_DEFAULTS, maxAttempts: 3, initialDelayMs: 20 }, log });
  n.notify(event('firing'));
  await n.idle();
  expect(received).toHaveLength(3);
  expect(log.list()[0]).toMatchObject({ attempt: 3, outcome: 'gave-up', httpStatus: 500, retryInMs: null });
  n.notify(event('resolved'));
  await n.idle();
  expect(received).toHaveLength(4);
  expect(log.list()[0]).toMatchObject({ status: 'resolved', attempt: 1, outcome: 'gave-up', httpStatus: 400 });
});

test('an unreachable receiver is logged with the network error and retried', async () => {
  await new Promise((r) => server.close(r));
  const log = new DeliveryLog(null);
  const n = new WebhookNotifier({ webhooks: [{ url }], retry: { ...RETRY_DEFAULTS, maxAttempts: 2, initialDelayMs: 10 }, log });
  n.notify(event('firing'));
  await n.idle();
  expect(log.list().map((e) => e.outcome)).toEqual(['gave-up', 'failed']);
  expect(log.list()[0]!.error).toMatch(/ECONNREFUSED/);
  server = createServer();
  server.listen(0, '127.0.0.1');
});
