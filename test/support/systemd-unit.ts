/**
 * Reads a systemd unit file's [Service] settings and turns them into the command line that starts
 * its process the way systemd would, with the pieces systemd applies that matter to Trellis: the
 * environment (PATH, Environment=, then the env file, which overrides), the capability bounding set
 * and ambient capabilities, no_new_privs, and the user. util-linux's setpriv applies them.
 */
import { readFileSync } from 'node:fs';
import { parseEnvFile } from '../../core/src/cli/installed-services';

export interface ServiceSection {
  /** Every value of each key, in file order. */
  values: Map<string, string[]>;
}

export function readServiceSection(file: string): ServiceSection {
  const values = new Map<string, string[]>();
  let inService = false;
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      inService = line === '[Service]';
      continue;
    }
    if (!inService) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    values.set(key, [...(values.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return { values };
}

export function one(s: ServiceSection, key: string): string | undefined {
  const v = s.values.get(key);
  return v?.[v.length - 1];
}

/** systemd's default PATH for system services. */
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** serviceEnv is the environment systemd gives the process: PATH, Environment= lines, then the env file. */
export function serviceEnv(s: ServiceSection, envFileText: string): Record<string, string> {
  const env: Record<string, string> = { PATH: SYSTEMD_PATH };
  for (const assignment of s.values.get('Environment') ?? []) {
    const eq = assignment.indexOf('=');
    env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  return { ...env, ...parseEnvFile(envFileText) };
}

const capName = (c: string) => c.toLowerCase().replace(/^cap_/, '');

/**
 * setprivArgs is the setpriv prefix for the unit's privileges. user: run as this uid/gid instead of
 * the unit's User= (a test machine may have no such user).
 */
export function setprivArgs(s: ServiceSection, user?: { uid: number; gid: number }): string[] {
  const bounding = (one(s, 'CapabilityBoundingSet') ?? '').split(/\s+/).filter(Boolean).map(capName);
  const ambient = (one(s, 'AmbientCapabilities') ?? '').split(/\s+/).filter(Boolean).map(capName);
  const args = ['setpriv'];
  if (user) args.push(`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups');
  if (ambient.length > 0) {
    const caps = ['-all', ...ambient.map((c) => `+${c}`)].join(',');
    args.push(`--inh-caps=${caps}`, `--ambient-caps=${caps}`);
  }
  args.push(`--bounding-set=${['-all', ...bounding.map((c) => `+${c}`)].join(',')}`);
  if (one(s, 'NoNewPrivileges') === 'yes') args.push('--no-new-privs');
  return [...args, '--'];
}
