/**
 * The data plane Trellis's agents run, on the lab: by default every agent's device is trellis-wg,
 * the pinned current wireguard-go with Trellis's control socket (STUN and disco), with TSO/USO on its
 * TUN, and `trellis status` and `trellis lab status` say so. A node pointed at Debian's 2022 package (TRELLIS_WIREGUARD_GO) runs without
 * offloads, and the two builds carry bulk TCP to each other intact.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import { run } from '../core/src/sys/run';
import { segmentationOffloadOn } from '../core/src/wg/tun-offloads';
import type { WgDeviceInfo } from '../core/src/wg/types';
import { BUNDLED_TRELLIS_WG, controlSocketPath } from '../core/src/wg/trellis-wg';
import { pingPairs } from './support/mesh';

jest.setTimeout(180_000);

const DEBIAN = '/usr/bin/wireguard-go';
const cli = defaultCliPath();
const runCli = async (...args: string[]) => (await promisify(execFile)(process.execPath, [cli, ...args])).stdout;

/** The module version setup pins (scripts/install-wireguard-go.sh). */
const pinned = /WIREGUARD_GO_VERSION="\$\{WIREGUARD_GO_VERSION:-(v[^}]+)\}"/.exec(
  readFileSync(join(__dirname, '..', 'scripts', 'install-wireguard-go.sh'), 'utf8'),
)![1];

let lab: Lab;
const tmp = mkdtempSync(join(tmpdir(), 'trellis-dataplane-'));
const payloadFile = join(tmp, 'payload');
const savedEnv = process.env.TRELLIS_WIREGUARD_GO;

beforeAll(async () => {
  delete process.env.TRELLIS_WIREGUARD_GO; // the agents' own default must be trellis-wg
  lab = await Lab.up({ nodes: 2 });
});

afterAll(async () => {
  if (savedEnv === undefined) delete process.env.TRELLIS_WIREGUARD_GO;
  else process.env.TRELLIS_WIREGUARD_GO = savedEnv;
  await lab?.down();
  rmSync(tmp, { recursive: true, force: true });
});

async function device(node: string): Promise<WgDeviceInfo> {
  const d = (await lab.status(node)).device;
  if (!d) throw new Error(`${node} reports no device`);
  return d;
}

test('every agent runs trellis-wg (the pinned current wireguard-go) by default, with TSO on its TUN and disco available', async () => {
  for (const node of ['n1', 'n2']) {
    const d = await device(node);
    expect(d).toMatchObject({ driver: 'trellis-wg', binary: BUNDLED_TRELLIS_WG, moduleVersion: pinned, commit: pinned.slice(-12), fallback: null });
    expect(d.disco).toEqual({ available: true, socket: controlSocketPath(lab.node(node).iface), reason: null });
    expect(segmentationOffloadOn(d.offloads)).toBe(true);
    // The device's process is the agent's child, in the node's namespace.
    expect((await run('ip', ['netns', 'identify', String(d.pid)])).trim()).toBe(lab.node(node).namespace);
    const ethtool = await lab.exec(node, 'ethtool', ['-k', lab.node(node).iface]);
    expect(ethtool.stdout).toContain('tcp-segmentation-offload: on');
    expect(ethtool.stdout).toContain('tx-udp-segmentation: on');
  }
});

test('trellis status and trellis lab status show the build, commit, offloads and disco', async () => {
  const text = await runCli('status', '--socket', lab.node('n1').socket);
  const d = await device('n1');
  expect(text).toContain(`device      trellis-wg ${d.version} (wireguard-go commit ${pinned.slice(-12)}), ${BUNDLED_TRELLIS_WG}, pid ${d.pid}\n`);
  expect(text).toMatch(/\noffloads {4}TSO, USO, checksum\n/);
  expect(text).toContain(`\ndisco       available (${controlSocketPath(lab.node('n1').iface)})\n`);
  const json = JSON.parse(await runCli('status', '--socket', lab.node('n1').socket, '--json')) as { device: WgDeviceInfo };
  expect(json.device).toEqual(d);
  const labText = await runCli('lab', 'status');
  expect(labText).toContain(`devices     n1, n2: trellis-wg ${d.version} (wireguard-go commit ${pinned.slice(-12)}), offloads TSO, USO, checksum, disco, ${BUNDLED_TRELLIS_WG}\n`);
});

test("a node on Debian's build runs without offloads and exchanges bulk TCP with the current build intact", async () => {
  await lab.addNode('n3', 60_000, { TRELLIS_WIREGUARD_GO: DEBIAN });
  const d3 = await device('n3');
  expect(d3).toMatchObject({ binary: DEBIAN, version: 'v0.0.20220316', commit: null, fallback: null });
  expect(d3.offloads).toMatchObject({ vnetHdr: false, tso4: false, tso6: false });
  expect(await pingPairs(lab, ['n1', 'n2', 'n3'], ['n1', 'n2', 'n3'])).toEqual([]);

  // 16 MB each way between n1 (offloaded) and n3 (not), checked by SHA-256 on arrival.
  const payload = randomBytes(16 * 1024 * 1024);
  const want = createHash('sha256').update(payload).digest('hex');
  writeFileSync(payloadFile, payload);
  for (const [from, to] of [['n1', 'n3'], ['n3', 'n1']]) {
    const addr = lab.node(to).addresses!.ipv4.split('/')[0];
    const server = lab.exec(to, 'sh', ['-c', `socat -u TCP4-LISTEN:5393,bind=${addr},reuseaddr STDOUT | sha256sum`], { timeoutMs: 60_000 });
    for (let i = 0; !(await lab.exec(to, 'ss', ['-Htln', 'sport = :5393'])).stdout.trim(); i++) {
      if (i > 100) throw new Error(`socat did not listen on ${to}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sent = await lab.exec(from, 'socat', ['-u', `OPEN:${payloadFile}`, `TCP4:${addr}:5393`], { timeoutMs: 60_000 });
    expect(sent.code).toBe(0);
    expect((await server).stdout.split(' ')[0]).toBe(want);
  }

  const labText = await runCli('lab', 'status');
  expect(labText).toMatch(/\ndevices {5}n1, n2: trellis-wg v\S+ \(wireguard-go commit [0-9a-f]{12}\), offloads TSO, USO, checksum, disco, \/usr\/local\/lib\/trellis\/trellis-wg\n/);
  expect(labText).toContain(`devices     n3: wireguard-go v0.0.20220316, offloads off, no disco, ${DEBIAN}\n`);
});
