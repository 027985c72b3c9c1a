/**
 * capabilities: which qdiscs, classifiers and actions this kernel really has, found by trying
 * each on a throwaway device (dummy where the kernel has it, else ifb, else a veth pair) and
 * deleting it again. Kernels differ: one may have HTB and u32 but no fq_codel, netem or police.
 */
import { randomBytes } from 'node:crypto';
import { tryRun, type CommandRunner } from './command-runner';

export const CAPABILITY_NAMES = ['htb', 'tbf', 'netem', 'fq_codel', 'sfq', 'ingress', 'u32', 'bpf', 'matchall', 'mirred', 'police', 'ifb'] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];
export type Capabilities = Record<CapabilityName, boolean>;

/** detectCapabilities probes the kernel; the throwaway devices are removed whatever happens. */
export async function detectCapabilities(runner: CommandRunner): Promise<Capabilities & { probeDevice: string }> {
  const tag = randomBytes(3).toString('hex');
  const dev = `trcap${tag}`;
  const ifbProbe = `trcapi${tag}`;
  const caps = Object.fromEntries(CAPABILITY_NAMES.map((n) => [n, false])) as Capabilities;
  const ok = async (...argv: string[]) => (await tryRun(runner, argv)) !== null;
  let probeDevice = 'none';
  try {
    caps.ifb = await ok('ip', 'link', 'add', ifbProbe, 'type', 'ifb');
    if (await ok('ip', 'link', 'add', dev, 'type', 'dummy')) probeDevice = 'dummy';
    else if (await ok('ip', 'link', 'add', dev, 'type', 'ifb')) probeDevice = 'ifb';
    else if (await ok('ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`)) probeDevice = 'veth';
    if (probeDevice === 'none') return { ...caps, probeDevice };
    await ok('ip', 'link', 'set', dev, 'up');
    const tryRoot = async (...qdisc: string[]) => {
      const added = await ok('tc', 'qdisc', 'add', 'dev', dev, 'root', ...qdisc);
      if (added) await ok('tc', 'qdisc', 'del', 'dev', dev, 'root');
      return added;
    };
    caps.tbf = await tryRoot('tbf', 'rate', '1mbit', 'burst', '10kb', 'latency', '50ms');
    caps.netem = await tryRoot('netem', 'delay', '1ms');
    caps.fq_codel = await tryRoot('fq_codel');
    caps.sfq = await tryRoot('sfq');
    caps.htb = await ok('tc', 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb');
    if (caps.htb) {
      await ok('tc', 'class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '1mbit');
      const filter = (pref: string, ...spec: string[]) => ok('tc', 'filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'prio', pref, ...spec);
      caps.u32 = await filter('1', 'u32', 'match', 'u32', '0', '0', 'flowid', '1:1');
      caps.bpf = await filter('2', 'bpf', 'bytecode', '1,6 0 0 0,', 'flowid', '1:1');
      caps.matchall = await filter('3', 'matchall', 'classid', '1:1');
    }
    caps.ingress = await ok('tc', 'qdisc', 'add', 'dev', dev, 'handle', 'ffff:', 'ingress');
    if (caps.ingress) {
      const action = (pref: string, ...spec: string[]) =>
        ok('tc', 'filter', 'add', 'dev', dev, 'parent', 'ffff:', 'protocol', 'all', 'prio', pref, 'u32', 'match', 'u32', '0', '0', 'action', ...spec);
      caps.mirred = await action('1', 'mirred', 'egress', 'redirect', 'dev', caps.ifb ? ifbProbe : dev);
      caps.police = await action('2', 'police', 'rate', '1mbit', 'burst', '10k', 'drop');
    }
    return { ...caps, probeDevice };
  } finally {
    await tryRun(runner, ['ip', 'link', 'del', dev]);
    await tryRun(runner, ['ip', 'link', 'del', ifbProbe]);
  }
}

/** missingCapabilities lists what is absent, for one plain log line. */
export function missingCapabilities(caps: Capabilities): CapabilityName[] {
  return CAPABILITY_NAMES.filter((n) => !caps[n]);
}
