import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectDiskFacts, rootMount } from './disk-encryption';
import { collectFirewallFacts, firewallFromNftJson } from './host-firewall';
import { listProcessNames, ProcessWatcher } from './processes';

const fixtures = join(__dirname, 'fixtures');
const sys = (name: string) => ({ procMounts: join(fixtures, name, 'mounts'), sysBlock: join(fixtures, name, 'sys', 'block') });

describe('disk encryption', () => {
  it('finds LUKS under LVM through the device-mapper slaves', async () => {
    expect(await collectDiskFacts(sys('luks-lvm'))).toEqual({
      rootEncrypted: true,
      devices: [
        { name: 'vg-root', type: 'lvm', mountpoint: '/' },
        { name: 'sda3_crypt', type: 'crypt', mountpoint: null },
        { name: 'sda3', type: 'part', mountpoint: null },
      ],
    });
  });
  it('reports a plain partition and a virtual root as not encrypted', async () => {
    expect(await collectDiskFacts(sys('plain'))).toEqual({ rootEncrypted: false, devices: [{ name: 'sda2', type: 'part', mountpoint: '/' }] });
    expect(await collectDiskFacts(sys('overlay'))).toEqual({ rootEncrypted: false, devices: [{ name: 'overlay', type: 'overlay', mountpoint: '/' }] });
  });
  it('reads this host without failing', async () => {
    const facts = await collectDiskFacts();
    expect(typeof facts.rootEncrypted).toBe('boolean');
    expect(facts.devices[0]?.mountpoint).toBe('/');
  });
  it('takes the last root mount line', () => {
    expect(rootMount('rootfs / rootfs rw 0 0\n/dev/vda / ext4 rw 0 0\n')).toEqual({ device: '/dev/vda', fsType: 'ext4' });
    expect(rootMount('proc /proc proc rw 0 0\n')).toBeNull();
  });
});

describe('host firewall', () => {
  const load = (name: string) => JSON.parse(readFileSync(join(fixtures, name, 'ruleset.json'), 'utf8')) as unknown;
  it('counts input-hook rules and the input policy, ignoring the trellis table', () => {
    expect(firewallFromNftJson(load('nft-host-and-trellis'))).toEqual({ enabled: true, ruleCount: 2, inputPolicy: 'drop', tables: 1 });
  });
  it('is off when only Trellis’s own table is loaded', () => {
    expect(firewallFromNftJson(load('nft-empty'))).toEqual({ enabled: false, ruleCount: 0, inputPolicy: 'accept', tables: 0 });
    expect(firewallFromNftJson({})).toEqual({ enabled: false, ruleCount: 0, inputPolicy: 'accept', tables: 0 });
  });
  it('reads this host with nft, or reports nothing when nft cannot run', async () => {
    const real = await collectFirewallFacts();
    expect(real === null || typeof real.enabled === 'boolean').toBe(true);
    expect(await collectFirewallFacts('/nonexistent/nft')).toBeNull();
  });
});

describe('processes', () => {
  let proc: string;
  const addProc = (pid: number, comm: string) => {
    mkdirSync(join(proc, String(pid), 'ns'), { recursive: true });
    writeFileSync(join(proc, String(pid), 'comm'), `${comm}\n`);
    symlinkSync(pid % 2 === 0 ? 'net:[1]' : 'net:[2]', join(proc, String(pid), 'ns', 'net'));
  };
  beforeEach(() => {
    proc = mkdtempSync(join(tmpdir(), 'facts-proc-'));
    mkdirSync(join(proc, 'self', 'ns'), { recursive: true });
    symlinkSync('net:[1]', join(proc, 'self', 'ns', 'net'));
    mkdirSync(join(proc, 'sys'));
    addProc(10, 'sshd');
    addProc(11, 'telnetd');
    addProc(12, 'sshd');
  });
  afterEach(() => rmSync(proc, { recursive: true, force: true }));

  it('lists distinct names from comm, host-wide or in our network namespace', async () => {
    expect(await listProcessNames(proc, 'host')).toEqual(['sshd', 'telnetd']);
    expect(await listProcessNames(proc, 'netns')).toEqual(['sshd']);
  });
  it('sees this very process in the real /proc', async () => {
    expect(await listProcessNames('/proc', 'netns')).toContain(readFileSync('/proc/self/comm', 'utf8').trim());
  });
  it('the watcher reports a change of the name set, not a restart of the same names', async () => {
    const seen: string[][] = [];
    const w = new ProcessWatcher({ procDir: proc, intervalMs: 20, onChange: (n) => seen.push(n) });
    await w.start();
    addProc(14, 'sshd');
    await new Promise((r) => setTimeout(r, 80));
    expect(seen).toEqual([]);
    addProc(16, 'nc');
    await new Promise((r) => setTimeout(r, 80));
    rmSync(join(proc, '16'), { recursive: true });
    await new Promise((r) => setTimeout(r, 80));
    w.stop();
    expect(seen).toEqual([['nc', 'sshd', 'telnetd'], ['sshd', 'telnetd']]);
  });
});
