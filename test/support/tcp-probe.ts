/**
 * Tiny TCP listeners and connection checks run with node inside network namespaces, for tests
 * that check what a packet filter lets through (the machine has no nc or socat).
 */
import { spawn, type ChildProcess } from 'node:child_process';

const LISTEN_SCRIPT = `
const net = require('node:net');
const ports = process.argv[1].split(',').map(Number);
let up = 0;
for (const port of ports) {
  const s = net.createServer((c) => { c.end('hello from ' + port + '\\n'); });
  s.listen(port, '::', () => { if (++up === ports.length) console.log('ready'); });
}
`;

const CONNECT_SCRIPT = `
const net = require('node:net');
const [host, port, timeout] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const s = net.connect({ host, port });
const t = setTimeout(() => { console.log('timeout'); process.exit(2); }, timeout);
s.on('data', (d) => { clearTimeout(t); console.log('ok ' + String(d).trim()); process.exit(0); });
s.on('error', (e) => { clearTimeout(t); console.log('error ' + e.code); process.exit(1); });
`;

/** Listener is a node process serving on ports inside a namespace; stop() kills it. */
export interface Listener {
  stop(): void;
}

/** listenIn starts TCP listeners on every address of ns and resolves once they accept. */
export function listenIn(netns: string, ports: number[]): Promise<Listener> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', LISTEN_SCRIPT, ports.join(',')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`listener in ${netns} did not start: ${out}`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve({ stop: () => child.kill('SIGKILL') });
      }
    });
    child.stderr?.on('data', (d: Buffer) => (out += String(d)));
    child.on('exit', (code) => reject(new Error(`listener in ${netns} exited with ${code}: ${out}`)));
  });
}

/** connectFrom tries one TCP connection from inside ns; 'ok' only when the server's greeting came back. */
export function connectFrom(netns: string, host: string, port: number, timeoutMs = 1500): Promise<'ok' | 'timeout' | 'refused' | 'error'> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', CONNECT_SCRIPT, host, String(port), String(timeoutMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += String(d)));
    child.on('exit', () => {
      if (out.startsWith('ok')) resolve('ok');
      else if (out.startsWith('timeout')) resolve('timeout');
      else if (out.includes('ECONNREFUSED')) resolve('refused');
      else resolve('error');
    });
  });
}
