import { existsSync } from 'node:fs';
import { BUNDLED_WIREGUARD_GO, resolveWireguardGo, wireguardGoVersion } from './wireguard-go';

describe('resolveWireguardGo', () => {
  const saved = process.env.TRELLIS_WIREGUARD_GO;
  afterEach(() => {
    if (saved === undefined) delete process.env.TRELLIS_WIREGUARD_GO;
    else process.env.TRELLIS_WIREGUARD_GO = saved;
  });

  it('prefers the explicit path, then the environment', () => {
    process.env.TRELLIS_WIREGUARD_GO = '/opt/wg/wireguard-go';
    expect(resolveWireguardGo('/x/wireguard-go')).toBe('/x/wireguard-go');
    expect(resolveWireguardGo()).toBe('/opt/wg/wireguard-go');
  });

  it('falls back to the bundled build or PATH', () => {
    delete process.env.TRELLIS_WIREGUARD_GO;
    const got = resolveWireguardGo();
    if (existsSync(BUNDLED_WIREGUARD_GO)) expect(got).toBe(BUNDLED_WIREGUARD_GO);
    else expect(got).toMatch(/(^|\/)wireguard-go$/);
  });
});

const installed = existsSync('/usr/bin/wireguard-go') || existsSync(BUNDLED_WIREGUARD_GO);
(installed ? it : it.skip)('wireguardGoVersion reads the version line', async () => {
  delete process.env.TRELLIS_WIREGUARD_GO;
  expect(await wireguardGoVersion(resolveWireguardGo())).toMatch(/^v?\d+\.\d+\.\d+/);
});

it('wireguardGoVersion fails clearly for a missing binary', async () => {
  await expect(wireguardGoVersion('/nonexistent/wireguard-go')).rejects.toMatchObject({ code: 'TRELLIS_ERR_COMMAND_FAILED' });
});
