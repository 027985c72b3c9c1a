/**
 * tc-apply: TcShaper puts a ShapingProfile on the WireGuard interface and keeps it there with the
 * fewest commands: it reads what tc has, diffs it against the profile's desired state, and runs
 * only the difference. It records what it created in a state file so cleanup removes only that.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PluginLogger } from '@trellis/core/api';
import type { Capabilities } from './capabilities';
import { tryRun, type CommandRunner } from './command-runner';
import { buildDesiredState, ifbNameFor, INGRESS_HANDLE, type DesiredState, type LeafKind } from './desired-state';
import { parseProfile, type ShapingProfile } from './profile';
import { diffDevice, diffIngressHook, isOurRoot, type Command } from './tc-diff';
import { parseClasses, parseFilters, parseQdiscs, type DeviceState, type TcClassStats } from './tc-state';

export const STATE_FILE = 'shaping-tc.json';

/** What Trellis created on this host, persisted so a restarted agent still cleans up only its own. */
export interface CreatedState {
  version: 1;
  iface: string;
  profile: string | null;
  /** Trellis put the HTB root (handle 1:) on the interface. */
  egressRoot: boolean;
  /** Trellis added the ingress qdisc on the interface. */
  ingressQdisc: boolean;
  /** The ifb device Trellis created, or null. */
  ifb: string | null;
  /** The interface's gso_max_segs before Trellis set it to 1; absent or null when untouched. */
  gsoMaxSegs?: number | null;
}

export interface ClassStatsSample extends TcClassStats {
  dev: string;
  direction: 'egress' | 'ingress';
  /** realtime, critical, default, bulk, link, or "cap <target>". */
  label: string;
  at: number;
}

/** One class of the tree in force with its counters, as `trellis status` shows it. */
export interface ShapingClassStatus extends TcClassStats {
  direction: 'egress' | 'ingress';
  dev: string;
  /** realtime, critical, default, bulk, link, or "cap <target>". */
  label: string;
  rateKbit: number;
  ceilKbit: number;
  prio: number | null;
}

/** The plugin's `statusSection`: the profile in force and what each class carries. */
export interface ShapingStatus {
  profile: string;
  iface: string;
  ifb: string | null;
  leaf: LeafKind | null;
  /** When the counters were read (unix ms); null before the first sample. */
  sampledAt: number | null;
  classes: ShapingClassStatus[];
}

export interface ApplyResult {
  profile: string;
  /** The mutating commands that ran; empty when the device already matched. */
  commands: Command[];
}

export interface TcShaperOptions {
  iface: string;
  stateDir: string;
  runner: CommandRunner;
  capabilities: Capabilities;
  log: PluginLogger;
  now?: () => number;
}

/** GSO_BURST_MS is how long, at the link rate, one GSO super-packet may hold the interface. */
export const GSO_BURST_MS = 1;

/**
 * gsoSegsFor is the gso_max_segs that keeps one super-packet within GSO_BURST_MS of the link
 * rate: 3 segments of 1420 bytes at 42 Mbit, 17 at 200 Mbit; never below 1, never above the
 * kernel's 65535.
 */
export function gsoSegsFor(linkRateMbit: number, mtu: number): number {
  const bytes = (linkRateMbit * 1e6 * GSO_BURST_MS) / 1000 / 8;
  return Math.min(65_535, Math.max(1, Math.floor(bytes / Math.max(mtu, 68))));
}

export class TcShaper {
  private created: CreatedState;
  private desired: DesiredState | null = null;
  private latestStats: ClassStatsSample[] = [];
  private readonly leaf: LeafKind | null;
  private loaded = false;

  constructor(private readonly opts: TcShaperOptions) {
    this.created = { version: 1, iface: opts.iface, profile: null, egressRoot: false, ingressQdisc: false, ifb: null };
    const c = opts.capabilities;
    this.leaf = c.fq_codel ? 'fq_codel' : c.sfq ? 'sfq' : null;
  }

  /** leafKind is the qdisc put under each class, null when the kernel has neither fq_codel nor sfq. */
  get leafKind(): LeafKind | null {
    return this.leaf;
  }

  get activeProfile(): string | null {
    return this.desired?.profile ?? null;
  }

  /** ingressSupported says whether this kernel can shape ingress (ingress qdisc, ifb, mirred, u32). */
  get ingressSupported(): boolean {
    const c = this.opts.capabilities;
    return c.ingress && c.ifb && c.mirred && c.u32;
  }

  /**
   * apply validates first (a bad profile throws before any command, so the shaping in force
   * stays), then runs only the commands that differ.
   */
  async apply(input: unknown, peerAddresses: Record<string, string> = {}): Promise<ApplyResult> {
    const profile: ShapingProfile = parseProfile(input);
    await this.loadCreated();
    const desired = buildDesiredState(profile, { iface: this.opts.iface, leaf: this.leaf, ingress: this.ingressSupported, peerAddresses });
    const ran: Command[] = [];
    const exec = async (cmds: Command[]) => {
      for (const c of cmds) {
        await this.opts.runner.run(c);
        ran.push(c);
      }
    };

    await this.limitGso(profile.linkRateMbit, ran);
    const iface = await this.readDevice(this.opts.iface, true);
    const egress = diffDevice(iface, desired.egress);
    if (!isOurRoot(iface)) this.created.egressRoot = true;
    await exec(egress);

    const ifb = desired.ingress?.ifb ?? null;
    const ifbLink = await this.linkState(ifb ?? ifbNameFor(this.opts.iface));
    const hook = diffIngressHook({ iface, ifb: ifbLink }, this.opts.iface, ifb);
    if (ifb && !ifbLink.exists) this.created.ifb = ifb;
    if (ifb && !iface.qdiscs.some((q) => q.kind === 'ingress')) this.created.ingressQdisc = true;
    await exec(hook);
    if (desired.ingress) {
      await exec(diffDevice(await this.readDevice(desired.ingress.ifb, false), desired.ingress.device));
    } else if (this.created.ifb) {
      await tryRun(this.opts.runner, ['ip', 'link', 'del', this.created.ifb]);
      ran.push(['ip', 'link', 'del', this.created.ifb]);
      this.created.ifb = null;
      this.created.ingressQdisc = false;
    }
    if (profile.ingressRateMbit !== undefined && !this.ingressSupported) {
      this.opts.log.warn({ profile: profile.name }, 'ingress shaping left out: this kernel lacks the ingress qdisc, ifb or mirred');
    }

    this.desired = desired;
    this.created.profile = profile.name;
    await this.saveCreated();
    return { profile: profile.name, commands: ran };
  }

  /**
   * limitGso bounds the super-packets local TCP hands the interface to one GSO burst (about 1 ms)
   * of the profile's link rate. With full GSO a socket queues 64 KB super-packets: HTB releases up
   * to 45 packets at once (12 ms of a 42 Mbit link) and a realtime packet waits behind them in
   * wireguard-go. One segment per packet everywhere costs the sender its GSO batching, which cut the
   * unshaped wireguard-go path here to about a third; bounding by the link rate keeps both. The
   * value the interface had before Trellis touched it is kept to restore.
   */
  private async limitGso(linkRateMbit: number, ran: Command[]): Promise<void> {
    const out = await tryRun(this.opts.runner, ['ip', '-d', '-j', 'link', 'show', 'dev', this.opts.iface]);
    if (out === null) return;
    const link = (JSON.parse(out || '[]') as Array<{ gso_max_segs?: number; mtu?: number }>)[0];
    const segs = link?.gso_max_segs;
    if (segs === undefined) return;
    const want = gsoSegsFor(linkRateMbit, link?.mtu ?? 1420);
    if (segs === want) return;
    const cmd = ['ip', 'link', 'set', 'dev', this.opts.iface, 'gso_max_segs', String(want)];
    if ((await tryRun(this.opts.runner, cmd)) === null) {
      this.opts.log.warn({ iface: this.opts.iface }, 'could not limit GSO on the interface; bulk bursts may delay realtime traffic');
      return;
    }
    ran.push(cmd);
    if (this.created.gsoMaxSegs === undefined || this.created.gsoMaxSegs === null) this.created.gsoMaxSegs = segs;
  }

  /** readDevice reads one device's qdiscs, classes and filters (and, on the interface, its ingress filters). */
  async readDevice(dev: string, withIngress: boolean): Promise<DeviceState> {
    const run = (...argv: string[]) => this.opts.runner.run(argv);
    const qdiscs = parseQdiscs(await run('tc', '-j', 'qdisc', 'show', 'dev', dev));
    const { classes } = parseClasses(await run('tc', '-j', 'class', 'show', 'dev', dev));
    const filters = parseFilters(await run('tc', '-j', 'filter', 'show', 'dev', dev));
    if (withIngress && qdiscs.some((q) => q.kind === 'ingress')) {
      filters.push(...parseFilters(await run('tc', '-j', 'filter', 'show', 'dev', dev, 'parent', INGRESS_HANDLE)));
    }
    return { dev, qdiscs, classes, filters };
  }

  private async linkState(dev: string): Promise<{ exists: boolean; up: boolean }> {
    const out = await tryRun(this.opts.runner, ['ip', '-j', 'link', 'show', 'dev', dev]);
    if (out === null) return { exists: false, up: false };
    const links = JSON.parse(out) as Array<{ flags?: string[] }>;
    return { exists: links.length > 0, up: links[0]?.flags?.includes('UP') ?? false };
  }

  /** sampleStats reads per-class counters of every shaped device and keeps them for classStats(). */
  async sampleStats(): Promise<ClassStatsSample[]> {
    const desired = this.desired;
    if (!desired) return (this.latestStats = []);
    const devices = [{ d: desired.egress, direction: 'egress' as const }, ...(desired.ingress ? [{ d: desired.ingress.device, direction: 'ingress' as const }] : [])];
    const at = (this.opts.now ?? Date.now)();
    const out: ClassStatsSample[] = [];
    for (const { d, direction } of devices) {
      const text = await tryRun(this.opts.runner, ['tc', '-j', '-s', 'class', 'show', 'dev', d.dev]);
      if (text === null) continue;
      const labels = new Map(d.classes.map((c) => [c.classid, c.label]));
      for (const s of parseClasses(text).stats) {
        const label = labels.get(s.classid);
        if (label) out.push({ ...s, dev: d.dev, direction, label, at });
      }
    }
    this.latestStats = out;
    return out;
  }

  /**
   * describe joins the classes in force (rate, ceil, priority as the profile set them) with their
   * latest counters, one row per class and direction; null when no profile is in force.
   */
  describe(): ShapingStatus | null {
    const desired = this.desired;
    if (!desired) return null;
    const stats = new Map(this.latestStats.map((s) => [`${s.dev}|${s.classid}`, s]));
    const devices = [{ d: desired.egress, direction: 'egress' as const }, ...(desired.ingress ? [{ d: desired.ingress.device, direction: 'ingress' as const }] : [])];
    const classes: ShapingClassStatus[] = [];
    for (const { d, direction } of devices) {
      for (const c of d.classes) {
        const s = stats.get(`${d.dev}|${c.classid}`);
        classes.push({
          direction,
          dev: d.dev,
          classid: c.classid,
          label: c.label,
          rateKbit: c.rateKbit,
          ceilKbit: c.ceilKbit,
          prio: c.prio,
          bytes: s?.bytes ?? 0,
          packets: s?.packets ?? 0,
          drops: s?.drops ?? 0,
          overlimits: s?.overlimits ?? 0,
          backlogBytes: s?.backlogBytes ?? 0,
          backlogPackets: s?.backlogPackets ?? 0,
        });
      }
    }
    return {
      profile: desired.profile,
      iface: desired.egress.dev,
      ifb: desired.ingress?.ifb ?? null,
      leaf: this.leaf,
      sampledAt: this.latestStats[0]?.at ?? null,
      classes,
    };
  }

  /** classStats is the latest sample, kept in memory for status and telemetry. */
  classStats(): ClassStatsSample[] {
    return this.latestStats;
  }

  /** cleanup removes only what the state file says Trellis created; foreign qdiscs stay. */
  async cleanup(): Promise<Command[]> {
    await this.loadCreated();
    const ran: Command[] = [];
    const c = this.created;
    const undo = async (argv: string[]) => {
      if ((await tryRun(this.opts.runner, argv)) !== null) ran.push(argv);
    };
    if (c.egressRoot) {
      const state = await this.readDevice(c.iface, false).catch(() => null);
      if (state && isOurRoot(state)) await undo(['tc', 'qdisc', 'del', 'dev', c.iface, 'root']);
    }
    if (c.ingressQdisc) await undo(['tc', 'qdisc', 'del', 'dev', c.iface, 'ingress']);
    if (c.ifb) await undo(['ip', 'link', 'del', c.ifb]);
    if (typeof c.gsoMaxSegs === 'number') await undo(['ip', 'link', 'set', 'dev', c.iface, 'gso_max_segs', String(c.gsoMaxSegs)]);
    this.created = { version: 1, iface: this.opts.iface, profile: null, egressRoot: false, ingressQdisc: false, ifb: null };
    this.desired = null;
    this.latestStats = [];
    await rm(join(this.opts.stateDir, STATE_FILE), { force: true });
    return ran;
  }

  private async loadCreated(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    try {
      const saved = JSON.parse(await readFile(join(this.opts.stateDir, STATE_FILE), 'utf8')) as CreatedState;
      if (saved.version === 1 && saved.iface === this.opts.iface) this.created = saved;
    } catch {
      // No state file: Trellis created nothing yet.
    }
  }

  private async saveCreated(): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true });
    const file = join(this.opts.stateDir, STATE_FILE);
    await writeFile(`${file}.tmp`, JSON.stringify(this.created, null, 2));
    await rename(`${file}.tmp`, file);
  }
}
