/**
 * dumpLabNodes keeps what a failed lab test needs to find its cause: for each named node its
 * WireGuard device (`wg show`, which hides the private key), its agent's status, its nft ruleset,
 * routes and addresses, and a copy of every lab log (agents, controller). The lab's own directory is
 * removed by `lab down`, so the copy goes under test/artifacts/, which CI keeps and git ignores.
 */
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Lab } from '../../core/src/lab/lab';

export async function dumpLabNodes(lab: Lab, nodes: string[], label: string): Promise<string> {
  const dir = resolve(__dirname, '..', 'artifacts', `${label}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  for (const n of nodes) {
    const iface = lab.node(n).iface;
    const parts: string[] = [];
    const section = async (title: string, cmd: string, args: string[]) => {
      const r = await lab.exec(n, cmd, args, { timeoutMs: 10_000 }).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
      parts.push(`### ${title} (exit ${r.code})\n${r.stdout}${r.stderr ? `\n[stderr] ${r.stderr}` : ''}`);
    };
    await section(`wg show ${iface}`, 'wg', ['show', iface]);
    await section('ip -4 addr', 'ip', ['-4', 'addr']);
    await section('ip -4 route show table all', 'ip', ['-4', 'route', 'show', 'table', 'all']);
    await section('ip rule', 'ip', ['rule']);
    await section('nft list ruleset', 'nft', ['list', 'ruleset']);
    try {
      parts.push(`### trellis status\n${JSON.stringify(await lab.status(n), null, 2)}`);
    } catch (err) {
      parts.push(`### trellis status\n[error] ${(err as Error).message}`);
    }
    writeFileSync(join(dir, `${n}.txt`), parts.join('\n\n'));
  }
  const logs = join(lab.dir, 'logs');
  if (existsSync(logs)) cpSync(logs, join(dir, 'logs'), { recursive: true });
  return dir;
}
