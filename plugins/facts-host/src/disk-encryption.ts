/**
 * Disk encryption: whether the root filesystem sits on dm-crypt/LUKS. The root mount comes from
 * /proc/mounts; a device-mapper device is followed through /sys/block/<dm>/slaves, and one whose
 * dm/uuid starts with CRYPT- (what cryptsetup sets) counts as encryption. LVM on LUKS is found
 * through the slaves; a root on overlay, tmpfs or a plain partition is not encrypted.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export interface DiskDevice {
  name: string;
  /** crypt, lvm, dm, part, disk, or the filesystem type for virtual roots (overlay, tmpfs, ...). */
  type: string;
  mountpoint: string | null;
}

export interface DiskFacts {
  rootEncrypted: boolean;
  /** The chain from the root filesystem down to its disks: the evidence, for people. */
  devices: DiskDevice[];
}

/** Where the collector reads; tests point it at a fixture tree. */
export interface SysPaths {
  procMounts: string;
  sysBlock: string;
}

export const DEFAULT_SYS_PATHS: SysPaths = { procMounts: '/proc/mounts', sysBlock: '/sys/block' };

async function readText(path: string): Promise<string | null> {
  try {
    return (await fs.readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

async function list(path: string): Promise<string[]> {
  try {
    return (await fs.readdir(path)).sort();
  } catch {
    return [];
  }
}

/** rootMount finds the device and fs type mounted at / (the last such line wins, as the kernel stacks them). */
export function rootMount(procMounts: string): { device: string; fsType: string } | null {
  let found: { device: string; fsType: string } | null = null;
  for (const line of procMounts.split('\n')) {
    const [device, mountpoint, fsType] = line.split(' ');
    if (mountpoint === '/' && device && fsType) found = { device: device.replace(/\\040/g, ' '), fsType };
  }
  return found;
}

function dmType(uuid: string | null): string {
  if (!uuid) return 'dm';
  if (uuid.startsWith('CRYPT-')) return 'crypt';
  if (uuid.startsWith('LVM-')) return 'lvm';
  return 'dm';
}

/** blockName maps /dev/mapper/NAME, /dev/dm-N or /dev/sdXN to its /sys/block (or partition) name. */
async function blockName(device: string, sysBlock: string): Promise<string | null> {
  const base = device.split('/').pop() ?? '';
  if (device.startsWith('/dev/mapper/')) {
    for (const dm of await list(sysBlock)) {
      if (dm.startsWith('dm-') && (await readText(join(sysBlock, dm, 'dm', 'name'))) === base) return dm;
    }
    return null;
  }
  return device.startsWith('/dev/') ? base : null;
}

/** collectDiskFacts reports the root filesystem's device chain and whether any link is dm-crypt. */
export async function collectDiskFacts(paths: SysPaths = DEFAULT_SYS_PATHS): Promise<DiskFacts> {
  const mounts = await readText(paths.procMounts);
  const root = mounts ? rootMount(mounts) : null;
  if (!root) return { rootEncrypted: false, devices: [] };
  const top = await blockName(root.device, paths.sysBlock);
  if (!top) return { rootEncrypted: false, devices: [{ name: root.device, type: root.fsType, mountpoint: '/' }] };
  const devices: DiskDevice[] = [];
  const seen = new Set<string>();
  const walk = async (name: string, mountpoint: string | null): Promise<void> => {
    if (seen.has(name) || seen.size > 32) return;
    seen.add(name);
    if (name.startsWith('dm-')) {
      const dmName = (await readText(join(paths.sysBlock, name, 'dm', 'name'))) ?? name;
      devices.push({ name: dmName, type: dmType(await readText(join(paths.sysBlock, name, 'dm', 'uuid'))), mountpoint });
      for (const slave of await list(join(paths.sysBlock, name, 'slaves'))) await walk(slave, null);
    } else {
      const isDisk = (await list(paths.sysBlock)).includes(name);
      devices.push({ name, type: isDisk ? 'disk' : 'part', mountpoint });
    }
  };
  await walk(top, '/');
  return { rootEncrypted: devices.some((d) => d.type === 'crypt'), devices };
}
