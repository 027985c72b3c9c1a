/**
 * measureNat runs `trellis stun` inside a node's namespace against the controller's two STUN
 * addresses, from one plain UDP socket: the NAT type is a property of the node's router, so the
 * node's own socket shows it (the agent's STUN through its WireGuard socket comes with the path
 * manager). The answer is what `trellis lab status` shows beside the configured type.
 */
import { execInNamespace } from './namespace-exec';
import type { LabNatMeasurement } from './lab-state';

interface ProbeJson {
  answers: Array<{ server: string; mapped: { address: string; port: number } | null; error: string | null }>;
  nat: { type: LabNatMeasurement['type']; reason: string };
}

const text = (a: { address: string; port: number }) => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);

export async function measureNat(namespace: string, cliPath: string, servers: readonly string[]): Promise<LabNatMeasurement> {
  const r = await execInNamespace(namespace, process.execPath, [cliPath, 'stun', ...servers, '--timeout', '2s', '--json'], { timeoutMs: 20_000 });
  let probe: ProbeJson;
  try {
    probe = JSON.parse(r.stdout) as ProbeJson;
  } catch {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n').pop();
    return { type: 'unknown', reason: `trellis stun failed in ${namespace}: ${why}`, mappings: {}, at: Date.now() };
  }
  const mappings: Record<string, string | null> = {};
  for (const a of probe.answers) mappings[a.server] = a.mapped ? text(a.mapped) : null;
  return { type: probe.nat.type, reason: probe.nat.reason, mappings, at: Date.now() };
}

/** mapLimited runs fn over items, at most `limit` at once (each probe is a node process; the machine is small). */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
