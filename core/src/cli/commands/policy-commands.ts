/**
 * `trellis policy push|rollback|explain|show`: the controller's access and posture policy. Push
 * sends a policy folder (.rego + data.json); the controller compiles it with `opa build -t wasm`,
 * runs `opa test`, and activates it only when both pass.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { TrellisError } from '../../errors';
import {
  BODY_LIMITS,
  ROUTES,
  type ExplainRequest,
  type ExplainResponse,
  type PolicyChangeResponse,
  type PolicyPushRequest,
  type PolicyStatusView,
} from '../../wire';
import { printJson } from '../command';
import { parseInteger } from '../flag-values';
import { renderTable } from '../../text/text-table';
import { UsageError } from '../usage-error';
import { adminCommand } from './admin-command';

/** Files a push never sends: build output and tool manifests. */
const SKIP_FILES = new Set(['project.json', 'package.json', 'tsconfig.json']);

/** readPolicyDir collects every .rego and .json under dir (not dist/ or dot folders), by relative path. */
export function readPolicyDir(dir: string, command: string): Record<string, string> {
  let root: string;
  try {
    root = resolve(dir);
    if (!statSync(root).isDirectory()) throw new UsageError(`${dir} is not a folder of .rego files`, command);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read policy folder ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, command);
  }
  const files: Record<string, string> = {};
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.') || name === 'dist' || name === 'node_modules') continue;
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(rego|json)$/.test(name) && !SKIP_FILES.has(name)) {
        const text = readFileSync(full, 'utf8');
        total += Buffer.byteLength(text);
        files[relative(root, full).split('\\').join('/')] = text;
      }
    }
  };
  walk(root);
  if (!Object.keys(files).some((f) => f.endsWith('.rego'))) throw new UsageError(`${dir} holds no .rego files`, command);
  if (total > BODY_LIMITS.policy - 64 * 1024) throw new UsageError(`${dir} holds ${total} bytes of policy; the limit is about ${BODY_LIMITS.policy} bytes`, command);
  return files;
}

/** oneLine folds a multi-line message (opa's output) into one line. */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' | ');
}

const short = (v: string | null) => (v === null ? 'none' : v.slice(0, 12));

export const policyPushCommand = adminCommand({
  name: 'policy push',
  summary: 'compile, test and activate a policy folder',
  positionals: ['<dir>'],
  description: `Sends every .rego and .json file under <dir> (e.g. policies/) to the controller, which compiles them
with \`opa build -t wasm\` and runs \`opa test\`. A policy that does not compile, or whose tests fail, is
refused with opa's message and the active version stays. Otherwise it becomes the active version at
once and every node's map is rebuilt with it. ACL rules are data: <dir>/access/data.json.`,
  json: true,
  async run({ admin, args, json, io }) {
    const dir = args[0]!;
    const body: PolicyPushRequest = { files: readPolicyDir(dir, 'policy push'), source: resolve(dir) };
    let res: PolicyChangeResponse;
    try {
      res = await admin.request<PolicyChangeResponse>('POST', ROUTES.adminPolicy, body);
    } catch (err) {
      if (err instanceof TrellisError) throw new TrellisError(err.code, oneLine(err.message), err.details);
      throw err;
    }
    if (json) printJson(io, res);
    else if (res.unchanged) io.stdout(`policy ${short(res.version)} is already active (${res.testSummary ?? 'tests passed'})\n`);
    else io.stdout(`policy ${short(res.version)} active (was ${short(res.previousVersion)}); ${res.testSummary ?? 'tests passed'}\n`);
    return 0;
  },
});

export const policyRollbackCommand = adminCommand({
  name: 'policy rollback',
  summary: 'return to the previous policy version',
  positionals: [],
  description: 'Makes the version that was active before the current one active again; maps are rebuilt.',
  json: true,
  async run({ admin, json, io }) {
    const res = await admin.request<PolicyChangeResponse>('POST', ROUTES.adminPolicyRollback);
    if (json) printJson(io, res);
    else io.stdout(`policy ${short(res.version)} active again (rolled back from ${short(res.previousVersion)})\n`);
    return 0;
  },
});

export const policyShowCommand = adminCommand({
  name: 'policy show',
  summary: 'show the active policy version and its history',
  positionals: [],
  description: 'Shows the active policy version, the activations a rollback walks back through, and every stored version.',
  json: true,
  async run({ admin, json, io }) {
    const st = await admin.request<PolicyStatusView>('GET', ROUTES.adminPolicy);
    if (json) {
      printJson(io, st);
      return 0;
    }
    if (!st.engine) io.stdout('no policy engine loaded on the controller (add posture-opa to controller.plugins)\n');
    if (!st.active) {
      io.stdout('no active policy\n');
      return 0;
    }
    io.stdout(`active: ${st.active.version} from ${st.active.source}, since ${new Date(st.active.activatedAt).toISOString()}\n\n`);
    io.stdout(renderTable(['VERSION', 'KIND', 'BY', 'AT'], [...st.activations].reverse().map((a) => [short(a.version), a.kind, a.actor, new Date(a.at).toISOString()])));
    return 0;
  },
});

export const policyExplainCommand = adminCommand({
  name: 'policy explain',
  summary: 'explain the access decision between two nodes',
  positionals: [],
  description: 'Asks the active policy whether --from may reach --to on --proto/--port, and prints the rules that decided it.',
  flags: {
    options: { from: { type: 'string' }, to: { type: 'string' }, port: { type: 'string' }, proto: { type: 'string' } },
    help: `  --from <node|user>  the source node, or a user
  --to <node>         the destination node
  --port <p>          destination port (required for tcp and udp)
  --proto <p>         tcp (default), udp or icmp
`,
  },
  json: true,
  async run({ admin, values, json, io }) {
    const name = 'policy explain';
    const from = values.from as string | undefined;
    const to = values.to as string | undefined;
    if (!from) throw new UsageError('--from <node|user> is required', name);
    if (!to) throw new UsageError('--to <node> is required', name);
    const proto = (values.proto as string | undefined) ?? 'tcp';
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') throw new UsageError(`--proto "${proto}" is not tcp, udp or icmp`, name);
    const portText = values.port as string | undefined;
    if (proto !== 'icmp' && portText === undefined) throw new UsageError(`--port is required for ${proto}`, name);
    const body: ExplainRequest = { from, to, proto, port: portText === undefined ? null : parseInteger('--port', portText, name, 0, 65535) };
    const res = await admin.request<ExplainResponse>('POST', ROUTES.adminPolicyExplain, body);
    if (json) {
      printJson(io, res);
      return 0;
    }
    const flow = `${res.from} -> ${res.to} ${res.proto}${res.port === null ? '' : `/${res.port}`}`;
    io.stdout(`${res.allow ? 'allow' : 'deny'}: ${flow} (policy ${short(res.policyVersion)})\n${res.reasons.map((r) => `  - ${r}\n`).join('')}`);
    return 0;
  },
});
