/**
 * The controller and agent installed as systemd services (deploy/systemd/): their settings live in
 * /etc/trellis/controller.env and /etc/trellis/agent.env (the units' EnvironmentFile=). Commands
 * that talk to a controller or an agent fall back to these, so on a host with the services
 * `trellis nodes` and `trellis status` need no flags. TRELLIS_CONFIG_DIR moves /etc/trellis.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Defaults the units set with Environment= (an env file may override them). */
export const SERVICE_DEFAULTS = {
  controllerDataDir: '/var/lib/trellis/controller',
  agentStateDir: '/var/lib/trellis/agent',
} as const;

export function configDir(env: NodeJS.ProcessEnv): string {
  return env.TRELLIS_CONFIG_DIR || '/etc/trellis';
}

/**
 * parseEnvFile reads KEY=VALUE lines the way systemd's EnvironmentFile= does for the simple cases:
 * blank lines and # or ; comments are skipped, one pair of surrounding quotes is removed.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]!)) value = value.slice(1, -1);
    vars[m[1]!] = value;
  }
  return vars;
}

function readEnvFile(file: string): Record<string, string> | null {
  try {
    return parseEnvFile(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** localUrlFor turns a listen address into the URL a local client uses: 0.0.0.0 and [::] become loopback. */
export function localUrlFor(listen: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):(\d+)$/.exec(listen.trim());
  if (!m) return null;
  const host = m[1] === '0.0.0.0' ? '127.0.0.1' : m[1] === '[::]' ? '[::1]' : m[1];
  return `http://${host}:${m[2]}`;
}

export interface InstalledController {
  envFile: string;
  url: string;
  dataDir: string;
}

/** installedController reads controller.env; null when there is none or it names no usable listen address. */
export function installedController(env: NodeJS.ProcessEnv): InstalledController | null {
  const envFile = join(configDir(env), 'controller.env');
  const vars = readEnvFile(envFile);
  const url = vars?.TRELLIS_LISTEN ? localUrlFor(vars.TRELLIS_LISTEN) : null;
  if (!vars || !url) return null;
  return { envFile, url, dataDir: vars.TRELLIS_DATA_DIR || SERVICE_DEFAULTS.controllerDataDir };
}

/** installedAgentStateDir reads agent.env; null when there is none. */
export function installedAgentStateDir(env: NodeJS.ProcessEnv): string | null {
  const vars = readEnvFile(join(configDir(env), 'agent.env'));
  if (!vars) return null;
  return vars.TRELLIS_STATE_DIR || SERVICE_DEFAULTS.agentStateDir;
}
