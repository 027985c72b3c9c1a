import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { NetworkMapData } from '../netmap/types';
import { writeFileAtomic } from './atomic-file';

export const NETMAP_FILE = 'netmap.json';

/**
 * MapCache keeps the last applied NetworkMap on disk so the mesh comes back when the controller
 * is away. Writes are atomic; leftover temporary files from a crash are never read.
 */
export class MapCache {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, NETMAP_FILE);
  }

  /** load returns the cached map, or null when there is none or it is unusable (reason in onInvalid). */
  async load(onInvalid?: (why: string) => void): Promise<NetworkMapData | null> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onInvalid?.((err as Error).message);
      return null;
    }
    try {
      const map = JSON.parse(text) as unknown;
      const why = invalidMap(map);
      if (why) {
        onInvalid?.(why);
        return null;
      }
      return map as NetworkMapData;
    } catch {
      onInvalid?.(`${this.file} is not valid JSON`);
      return null;
    }
  }

  async save(map: NetworkMapData): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(map), 0o600);
  }

  async clear(): Promise<void> {
    await fs.rm(this.file, { force: true });
  }
}

/** invalidMap says what is wrong with a value that should be a NetworkMapData, or null if it looks right. */
export function invalidMap(v: unknown): string | null {
  const m = v as Partial<NetworkMapData> | null;
  if (!m || typeof m !== 'object') return 'map is not an object';
  if (typeof m.version !== 'number') return 'map.version is not a number';
  if (typeof m.epoch !== 'string') return 'map.epoch is not a string';
  if (!m.self || typeof m.self !== 'object' || typeof m.self.id !== 'string') return 'map.self is missing';
  if (!Array.isArray(m.peers)) return 'map.peers is not an array';
  if (!Array.isArray(m.routes)) return 'map.routes is not an array';
  if (!m.overlay || typeof m.overlay.ipv4Cidr !== 'string' || typeof m.overlay.ipv6Prefix !== 'string') return 'map.overlay is missing';
  return null;
}
