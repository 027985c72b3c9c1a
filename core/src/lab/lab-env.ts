/**
 * The environment of the lab's processes is explicit: the caller's environment without any
 * TRELLIS_* variable (a shell set up for a real agent or controller would otherwise steer the lab's:
 * its controller URL, admin token, state dir, relay or config), then the lab's own settings, kept in
 * its state so every later start (a restart, `lab add` from another shell) gets the same. Only the
 * tool locations and the log level are taken from the caller, once, when the lab comes up.
 */

/** What `lab up` records from its caller's environment into the lab's settings. */
export const LAB_RECORDED_VARIABLES = ['TRELLIS_WIREGUARD_GO', 'TRELLIS_OPA', 'TRELLIS_LOG_LEVEL'] as const;

/** labSettingsAtUp is the lab's environment settings: the recorded caller variables, then the explicit ones. */
export function labSettingsAtUp(caller: NodeJS.ProcessEnv, explicit: Readonly<Record<string, string>> = {}): Record<string, string> {
  const recorded: Record<string, string> = {};
  for (const name of LAB_RECORDED_VARIABLES) {
    const value = caller[name];
    if (value !== undefined && value !== '') recorded[name] = value;
  }
  return { ...recorded, ...explicit };
}

/** labChildEnv is what one lab process gets: the caller's environment less TRELLIS_*, the lab's settings, the node's own. */
export function labChildEnv(caller: NodeJS.ProcessEnv, lab: Readonly<Record<string, string>>, node: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(caller)) if (!name.startsWith('TRELLIS_')) env[name] = value;
  return { ...env, ...lab, ...node };
}
