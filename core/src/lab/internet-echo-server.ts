/**
 * The lab internet's web server (`trellis lab up --internet`): an HTTP/1.1 server that answers every
 * request with the address the connection came from, so a test can tell whether a node's traffic
 * left directly or through an exit node. Run as its own process inside the trl-inet namespace:
 * `node internet-echo-server.js <address> <port>`.
 */
import { createServer, type Server } from 'node:http';

/** callerAddress is the connection's source address, without the IPv4-mapped IPv6 prefix. */
export function callerAddress(remote: string | undefined): string {
  const a = remote ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** startEchoServer listens on address:port and answers each request with the caller's address. */
export function startEchoServer(address: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const body = `${callerAddress(req.socket.remoteAddress)}\n`;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}

if (require.main === module) {
  const [address, portText] = process.argv.slice(2);
  const port = Number(portText);
  if (!address || !Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write('usage: internet-echo-server <address> <port>\n');
    process.exit(2);
  }
  startEchoServer(address, port).then(
    () => process.stdout.write(`internet echo server on ${address}:${port}\n`),
    (err: Error) => {
      process.stderr.write(`internet echo server: ${err.message}\n`);
      process.exit(1);
    },
  );
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
}
