import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameReader, FrameType, ResultStatus, encodeFrame } from './control-frame';
import { RelayControl, type RelayInfo } from './relay-control';

const INFO = {
  protocol: 1,
  implementation: 'trellis-wg relay',
  version: '0.1.0',
  port: 3479,
  publicKey: '',
  pairs: 0,
  routes: 0,
  nodeTtlMs: 60000,
  nodes: [],
  counters: { forwardedPackets: 0, forwardedBytes: 0, pingsAccepted: 0, drops: {} },
  writeErrors: 0,
};

/** FakeRelay answers like trellis-wg's relay control (internal/relay/control.go): configs by result, info by id. */
class FakeRelay {
  readonly configs: unknown[] = [];
  refuse: string | null = null;
  private server: Server | null = null;
  constructor(readonly path: string) {}

  frame(type: number, id: number, rest: Buffer): Buffer {
    const head = Buffer.alloc(5);
    head[0] = type;
    head.writeUInt32BE(id, 1);
    return encodeFrame(Buffer.concat([head, rest]));
  }

  listen(): Promise<void> {
    this.server = createServer((sock) => {
      sock.write(this.frame(FrameType.INFO, 0, Buffer.from(JSON.stringify(INFO))));
      const reader = new FrameReader();
      sock.on('data', (chunk: Buffer) => {
        for (const body of reader.push(chunk)) {
          const id = body.readUInt32BE(1);
          if (body[0] === FrameType.RELAY_CONFIG) {
            this.configs.push(JSON.parse(body.subarray(5).toString()));
            const status = this.refuse ? ResultStatus.INVALID_INPUT : ResultStatus.OK;
            sock.write(this.frame(FrameType.RESULT, id, Buffer.concat([Buffer.from([status]), Buffer.from(this.refuse ?? '')])));
          } else if (body[0] === FrameType.GET_INFO) {
            sock.write(this.frame(FrameType.INFO, id, Buffer.from(JSON.stringify({ ...INFO, pairs: this.configs.length }))));
          }
        }
      });
    });
    return new Promise((resolve) => this.server!.listen(this.path, resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server!.close(() => resolve()));
  }
}

describe('RelayControl', () => {
  let dir: string;
  let relay: FakeRelay;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-relayctl-'));
    relay = new FakeRelay(join(dir, 'relay-3479.ctl'));
    await relay.listen();
  });
  afterEach(async () => {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the configuration as JSON and reads the info back', async () => {
    const c = await RelayControl.connect(relay.path);
    try {
      const config = { privateKey: 'k', pairs: [['a', 'b']] as Array<[string, string]>, nodeTtlMs: 30000 };
      await c.configure(config);
      expect(relay.configs).toEqual([config]);
      const info: RelayInfo = await c.info();
      expect(info).toMatchObject({ port: 3479, pairs: 1 });
    } finally {
      c.close();
    }
  });

  it("rejects a refused configuration with the relay's reason", async () => {
    const c = await RelayControl.connect(relay.path);
    try {
      relay.refuse = 'relay config: pair 0 names the same key twice (x); nothing changed';
      await expect(c.configure({ pairs: [['x', 'x']] })).rejects.toMatchObject({
        code: 'TRELLIS_ERR_RELAY_CONFIG',
        message: expect.stringContaining('pair 0 names the same key twice'),
      });
    } finally {
      c.close();
    }
  });
});
