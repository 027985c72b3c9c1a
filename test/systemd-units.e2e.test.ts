/**
 * The systemd units in deploy/systemd/ and the install flow of README "Running on real machines".
 *
 * systemd-analyze checks the unit files (verify: no warning at all; security: exposure "OK" or
 * better). Systemd is not PID 1 on the test machine, so the units' processes are started the way
 * the units start them: ExecStart's command, systemd's PATH, the Environment= defaults overridden by
 * an env file in deploy/etc's format, the unit's capability bounding set and ambient capabilities,
 * no_new_privs, and an unprivileged user for the controller. A controller and two agents, in network
 * namespaces standing in for two machines, then follow the README: keys create, enrol, nodes approve,
 * status, all without flags (the CLI finds the services through their env files). An agent without
 * CAP_NET_ADMIN cannot start, and SIGTERM to the agent alone (KillMode=mixed) removes its device.
 * Needs root, iproute2, wireguard-go, setpriv; run under the machine-wide lab lock.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentStatus } from '../core/src/wire/agent-api';
import { one, readServiceSection, serviceEnv, setprivArgs, type ServiceSection } from './support/systemd-unit';
import { waitFor } from './support/wait';

jest.setTimeout(180_000);

const repo = join(__dirname, '..');
const cli = join(repo, 'core', 'dist', 'cli', 'main.js');
const unitFile = (side: string) => join(repo, 'deploy', 'systemd', `trellis-${side}.service`);
const NS_CTL = 'trlsvc-ctl';
const NS_B = 'trlsvc-b';
const CTL_ADDR = '192.0.2.1';
const B_ADDR = '192.0.2.2';
const NOBODY = { uid: 65534, gid: 65534 };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { env, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}

async function must(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(file, args, env);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** within resolves with the exit code, or 'running' when the process is still up after ms. */
async function within(exited: Promise<number | null>, ms: number): Promise<number | null | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), ms)));
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let tmp: string;
const services: Array<{ name: string; child: ChildProcess; log: string; exited: Promise<number | null> }> = [];

/**
 * startService starts a unit's ExecStart inside a namespace, as systemd would start the unit: its
 * environment, privileges and user. The trellis on the PATH may be another checkout's, so ExecStart's
 * /usr/local/bin/trellis is this checkout's CLI run by node.
 */
function startService(name: string, unit: ServiceSection, netns: string, envFileText: string, user?: { uid: number; gid: number }) {
  const [bin, ...args] = one(unit, 'ExecStart')!.split(/\s+/);
  expect(bin).toBe('/usr/local/bin/trellis');
  const env = serviceEnv(unit, envFileText);
  const log = join(tmp, `${name}.log`);
  const fd = openSync(log, 'a');
  const argv = ['netns', 'exec', netns, ...setprivArgs(unit, user), '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, cli, ...args];
  const child = spawn('ip', argv, { stdio: ['ignore', fd, fd], detached: true });
  child.unref();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  services.push({ name, child, log, exited });
  return { child, log, exited };
}

/** trellis runs this checkout's CLI in a namespace with TRELLIS_CONFIG_DIR pointing at a machine's /etc/trellis. */
function trellis(netns: string, etc: string, ...args: string[]): Promise<Ran> {
  return run('ip', ['netns', 'exec', netns, '/usr/bin/env', `TRELLIS_CONFIG_DIR=${etc}`, `TRELLIS_LAB_DIR=${join(tmp, 'no-lab')}`, process.execPath, cli, ...args]);
}

async function stopAll(): Promise<void> {
  for (const s of services.reverse()) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) continue;
    try {
      process.kill(-s.child.pid!, 'SIGTERM');
    } catch {
      continue;
    }
    if ((await within(s.exited, 20_000)) === 'running') {
      try {
        process.kill(-s.child.pid!, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-systemd-e2e-'));
  for (const ns of [NS_CTL, NS_B]) await run('ip', ['netns', 'del', ns]);
  await must('ip', ['netns', 'add', NS_CTL]);
  await must('ip', ['netns', 'add', NS_B]);
  await must('ip', ['-n', NS_CTL, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS_B]);
  for (const [ns, addr] of [[NS_CTL, CTL_ADDR], [NS_B, B_ADDR]] as const) {
    await must('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
});

afterAll(async () => {
  await stopAll();
  // The services' logs outlive the run, for reading after a failure.
  const keep = join(repo, 'test', 'artifacts', 'systemd-units');
  rmSync(keep, { recursive: true, force: true });
  mkdirSync(keep, { recursive: true });
  for (const s of services) writeFileSync(join(keep, `${s.name}.log`), readFileSync(s.log));
  for (const ns of [NS_CTL, NS_B]) await run('ip', ['netns', 'del', ns]);
  for (const iface of ['trsvca', 'trsvcb', 'trsvcx']) rmSync(`/var/run/wireguard/${iface}.sock`, { force: true });
  rmSync(tmp, { recursive: true, force: true });
});

describe('the unit files', () => {
  it('systemd-analyze verify accepts both without a single warning', async () => {
    const r = await run('systemd-analyze', ['verify', unitFile('controller'), unitFile('agent')]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('systemd-analyze security rates both exposures OK or better', async () => {
    for (const side of ['controller', 'agent']) {
      const r = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', unitFile(side)]);
      expect(r.code).toBe(0);
      const m = /Overall exposure level for trellis-\w+\.service: ([\d.]+) (\w+)/.exec(r.stdout);
      expect(m).not.toBeNull();
      expect(['SAFE', 'OK']).toContain(m![2]);
    }
  });

  it('the agent keeps CAP_NET_ADMIN alone; the controller only CAP_NET_BIND_SERVICE, as an unprivileged user', () => {
    const agent = readServiceSection(unitFile('agent'));
    const controller = readServiceSection(unitFile('controller'));
    expect(one(agent, 'CapabilityBoundingSet')).toBe('CAP_NET_ADMIN');
    expect(one(controller, 'CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(one(controller, 'User')).toBe('trellis');
    for (const u of [agent, controller]) {
      expect(one(u, 'NoNewPrivileges')).toBe('yes');
      expect(one(u, 'ProtectSystem')).toBe('strict');
      expect(one(u, 'Restart')).toBe('on-failure');
    }
  });
});

describe('deploy/install.sh', () => {
  it('installs the units and env files (0600, never overwritten), and uninstall removes the units but keeps settings unless --purge', async () => {
    const root = join(tmp, 'root');
    const env = { ...process.env, TRELLIS_INSTALL_ROOT: root };
    const install = join(repo, 'deploy', 'install.sh');
    expect((await run('bash', [install, '--controller', '--agent'], env)).code).toBe(0);
    expect(readFileSync(join(root, 'etc/systemd/system/trellis-agent.service'), 'utf8')).toBe(readFileSync(unitFile('agent'), 'utf8'));
    expect(readFileSync(join(root, 'etc/systemd/system/trellis-controller.service'), 'utf8')).toBe(readFileSync(unitFile('controller'), 'utf8'));
    const agentEnv = join(root, 'etc/trellis/agent.env');
    expect(statSync(agentEnv).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'etc/trellis/controller.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(agentEnv, 'utf8')).toMatch(/^TRELLIS_NAME=[a-z0-9][a-z0-9-]*$/m);

    writeFileSync(agentEnv, 'TRELLIS_NAME=edited\n');
    const again = await run('bash', [install, '--agent'], env);
    expect(again.stdout).toContain(`kept ${agentEnv}`);
    expect(readFileSync(agentEnv, 'utf8')).toBe('TRELLIS_NAME=edited\n');

    expect((await run('bash', [install, '--uninstall'], env)).code).toBe(0);
    expect(() => statSync(join(root, 'etc/systemd/system/trellis-agent.service'))).toThrow();
    expect(readFileSync(agentEnv, 'utf8')).toBe('TRELLIS_NAME=edited\n');
    expect((await run('bash', [install, '--uninstall', '--purge'], env)).code).toBe(0);
    expect(() => statSync(join(root, 'etc/trellis'))).toThrow();

    expect((await run('bash', [install], env)).code).toBe(2);
    expect((await run('bash', [install, '--agent', '--uninstall'], env)).code).toBe(2);
  });
});

describe('a controller and two agents started as the units start them', () => {
  const etcCtl = () => join(tmp, 'host-ctl', 'etc');
  const etcB = () => join(tmp, 'host-b', 'etc');
  let key = '';

  it('the controller runs unprivileged from controller.env, and `trellis keys create` finds it with no flags', async () => {
    const unit = readServiceSection(unitFile('controller'));
    const dataDir = join(tmp, 'host-ctl', 'var-lib-trellis-controller');
    mkdirSync(etcCtl(), { recursive: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Like /var/lib/trellis, the folders above the data dir are open to the service's user.
    chmodSync(tmp, 0o755);
    chmodSync(join(tmp, 'host-ctl'), 0o755);
    // As systemd's StateDirectory= does: the data dir belongs to the service's user.
    let user: { uid: number; gid: number } | undefined = NOBODY;
    try {
      accessSync(cli, constants.R_OK);
      const probe = await run('setpriv', [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups', '--', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(cli)})`]);
      if (probe.code !== 0) user = undefined; // this checkout is not readable to others (e.g. under /root)
    } catch {
      user = undefined;
    }
    if (user) chownSync(dataDir, user.uid, user.gid);
    const envText = `# as in deploy/etc/controller.env, plain http (this test does not run controller init)\nTRELLIS_LISTEN=0.0.0.0:8080\nTRELLIS_INSECURE=true\nTRELLIS_REQUIRE_APPROVAL=true\nTRELLIS_DATA_DIR=${dataDir}\n`;
    writeFileSync(join(etcCtl(), 'controller.env'), envText, { mode: 0o600 });
    const ctl = startService('controller', unit, NS_CTL, envText, user);

    const created = await waitFor(
      'the controller to answer keys create',
      async () => {
        if (ctl.child.exitCode !== null) throw new Error(`controller exited: ${readFileSync(ctl.log, 'utf8')}`);
        const r = await trellis(NS_CTL, etcCtl(), 'keys', 'create', '--reusable', '--ttl', '10m');
        return r.code === 0 ? r.stdout.trim() : null;
      },
      30_000,
      200,
    );
    key = created.value;
    expect(key.length).toBeGreaterThan(20);
    expect(readFileSync(ctl.log, 'utf8')).toMatch(/^trellis controller listening on http:\/\/[\d.]+:8080$/m);
    const status = readFileSync(`/proc/${await controllerPid()}/status`, 'utf8');
    expect(/^CapBnd:\s+0*400$/m.test(status)).toBe(true); // CAP_NET_BIND_SERVICE (bit 10) alone
    if (user) expect(/^Uid:\s+65534\s/m.test(status)).toBe(true);
  });

  it('two agents enrol from agent.env with CAP_NET_ADMIN alone, wait for approval, then form a tunnel', async () => {
    const unit = readServiceSection(unitFile('agent'));
    const agents = [
      { name: 'svc-a', ns: NS_CTL, etc: etcCtl(), iface: 'trsvca', addr: CTL_ADDR },
      { name: 'svc-b', ns: NS_B, etc: etcB(), iface: 'trsvcb', addr: B_ADDR },
    ];
    for (const a of agents) {
      const stateDir = join(tmp, `state-${a.name}`);
      mkdirSync(a.etc, { recursive: true });
      const envText = [
        `TRELLIS_CONTROLLER=http://${CTL_ADDR}:8080`,
        'TRELLIS_INSECURE=true',
        `TRELLIS_NAME=${a.name}`,
        `TRELLIS_AUTH_KEY=${key}`,
        `TRELLIS_IFACE=${a.iface}`,
        `TRELLIS_STATE_DIR=${stateDir}`,
        `TRELLIS_ENDPOINT=${a.addr}:51820`,
        'TRELLIS_PROBE_INTERVAL=250ms',
        '',
      ].join('\n');
      writeFileSync(join(a.etc, 'agent.env'), envText, { mode: 0o600 });
      startService(a.name, unit, a.ns, envText);
    }

    // Waiting for approval: enrolled, no peers yet.
    const listed = await waitFor(
      'both nodes to enrol',
      async () => {
        const r = await trellis(NS_CTL, etcCtl(), 'nodes', '--json');
        const nodes = r.code === 0 ? (JSON.parse(r.stdout) as Array<{ name: string }>) : [];
        return nodes.length === 2 ? nodes : null;
      },
      30_000,
      200,
    );
    expect(listed.value.map((n) => n.name).sort()).toEqual(['svc-a', 'svc-b']);
    const before = await trellis(NS_B, etcB(), 'status', '--json');
    expect(before.code).toBe(0);
    expect((JSON.parse(before.stdout) as AgentStatus).peers).toEqual([]);

    for (const a of agents) {
      const r = await trellis(NS_CTL, etcCtl(), 'nodes', 'approve', a.name);
      expect(r.code).toBe(0);
    }

    const { value: status } = await waitFor(
      'svc-b to complete a handshake with svc-a and measure its RTT',
      async () => {
        const r = await trellis(NS_B, etcB(), 'status', '--json');
        if (r.code !== 0) return null;
        const s = JSON.parse(r.stdout) as AgentStatus;
        const peer = s.peers.find((p) => p.name === 'svc-a');
        return peer?.lastHandshake && peer.probe?.rttUs != null ? s : null;
      },
      30_000,
      250,
    );
    const peerA = status.peers.find((p) => p.name === 'svc-a')!;
    const ping = await run('ip', ['netns', 'exec', NS_B, 'ping', '-c', '3', '-i', '0.2', '-W', '2', peerA.addresses.ipv4]);
    expect(ping.code).toBe(0);
    const table = await trellis(NS_B, etcB(), 'status');
    expect(table.stdout).toContain('svc-a');

    const pid = (await must('ip', ['netns', 'pids', NS_B])).split('\n').filter(Boolean);
    const agentCaps = pid.map((p) => readFileSync(`/proc/${p}/status`, 'utf8')).filter((s) => /^Name:\s+(node|wireguard-go|trellis-wg)$/m.test(s));
    expect(agentCaps.length).toBeGreaterThanOrEqual(2);
    for (const s of agentCaps) expect(/^CapBnd:\s+0*1000$/m.test(s)).toBe(true); // CAP_NET_ADMIN (bit 12) alone
  });

  it('without CAP_NET_ADMIN an agent cannot create its device and fails (so the unit needs it)', async () => {
    const unit = readServiceSection(unitFile('agent'));
    unit.values.set('CapabilityBoundingSet', ['']);
    const envText = `TRELLIS_CONTROLLER=http://${CTL_ADDR}:8080\nTRELLIS_INSECURE=true\nTRELLIS_NAME=svc-x\nTRELLIS_AUTH_KEY=${key}\nTRELLIS_IFACE=trsvcx\nTRELLIS_STATE_DIR=${join(tmp, 'state-svc-x')}\nTRELLIS_LISTEN_PORT=51821\nTRELLIS_PROBE_PORT=51998\n`;
    const x = startService('svc-x', unit, NS_B, envText);
    const code = await within(x.exited, 30_000);
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(readFileSync(x.log, 'utf8')).toMatch(/wireguard-go did not start|TRELLIS_ERR_DEVICE|operation not permitted/i);
  });

  it('SIGTERM to the agent alone (KillMode=mixed) removes its device and exits 0', async () => {
    const b = services.find((s) => s.name === 'svc-b')!;
    process.kill(b.child.pid!, 'SIGTERM'); // ip netns exec → setpriv → env → node: exec keeps the pid
    const code = await within(b.exited, 30_000);
    expect(code).toBe(0);
    const link = await run('ip', ['-n', NS_B, 'link', 'show', 'trsvcb']);
    expect(link.code).not.toBe(0);
  });
});

/** controllerPid is the pid of the node process serving the controller in its namespace. */
async function controllerPid(): Promise<string> {
  const pids = (await must('ip', ['netns', 'pids', NS_CTL])).split('\n').filter(Boolean);
  const found = pids.find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('controller');
    } catch {
      return false;
    }
  });
  if (!found) throw new Error('no controller process in its namespace');
  return found;
}
