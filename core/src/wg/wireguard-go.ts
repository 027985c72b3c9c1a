/**
 * Which wireguard-go binary to run. Debian's package is old; a setup step may build a current
 * release into /usr/local/lib/trellis, and an operator can point anywhere with TRELLIS_WIREGUARD_GO.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run } from '../sys/run';

/** BUNDLED_WIREGUARD_GO is where a setup step installs a current wireguard-go build. */
export const BUNDLED_WIREGUARD_GO = '/usr/local/lib/trellis/wireguard-go';

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * resolveWireguardGo picks the binary: explicit path, else $TRELLIS_WIREGUARD_GO, else the bundled
 * build if present, else `wireguard-go` from PATH (as a full path when found, so logs say which).
 */
export function resolveWireguardGo(explicit?: string): string {
  if (explicit) return explicit;
  const fromEnv = process.env.TRELLIS_WIREGUARD_GO;
  if (fromEnv) return fromEnv;
  if (isExecutable(BUNDLED_WIREGUARD_GO)) return BUNDLED_WIREGUARD_GO;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'wireguard-go');
    if (isExecutable(candidate)) return candidate;
  }
  return 'wireguard-go';
}

/** wireguardGoVersion runs `<bin> --version` and returns the version it prints, e.g. "v0.0.20220316". */
export async function wireguardGoVersion(bin: string): Promise<string> {
  const out = await run(bin, ['--version'], { timeoutMs: 5_000 });
  const m = /wireguard-go\s+(v?[0-9][^\s]*)/.exec(out);
  return m ? m[1] : out.split('\n')[0].trim();
}
