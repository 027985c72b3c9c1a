import { createServer, type AddressInfo } from 'node:net';
import { fetchFailureReason } from './fetch-failure';

/** A port nothing listens on: one the system handed out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('fetchFailureReason', () => {
  it('names the cause of a refused connection, not just "fetch failed"', async () => {
    const err = await fetch(`http://127.0.0.1:${await closedPort()}/`).catch((e: unknown) => e);
    expect(fetchFailureReason(err)).toBe('ECONNREFUSED');
  });

  it('falls back to the cause message, the message, then the value', () => {
    expect(fetchFailureReason({ message: 'fetch failed', cause: { message: 'other side closed' } })).toBe('other side closed');
    expect(fetchFailureReason(new Error('The operation was aborted due to timeout'))).toBe('The operation was aborted due to timeout');
    expect(fetchFailureReason('plain')).toBe('plain');
  });
});
