import { labChildEnv, labSettingsAtUp } from './lab-env';

const caller = {
  PATH: '/usr/bin',
  HOME: '/root',
  TRELLIS_CONTROLLER: 'https://vpn.example.com',
  TRELLIS_ADMIN_TOKEN: 'caller-token',
  TRELLIS_STATE_DIR: '/var/lib/trellis',
  TRELLIS_RELAY: '1',
  TRELLIS_WIREGUARD_GO: '/usr/bin/wireguard-go',
  TRELLIS_LOG_LEVEL: 'debug',
  TRELLIS_OPA: '',
};

describe('the lab environment', () => {
  it('records only the tool locations and the log level from the caller, under the explicit settings', () => {
    expect(labSettingsAtUp(caller)).toEqual({ TRELLIS_WIREGUARD_GO: '/usr/bin/wireguard-go', TRELLIS_LOG_LEVEL: 'debug' });
    expect(labSettingsAtUp(caller, { TRELLIS_LOG_LEVEL: 'info', TRELLIS_PROBE_PORT: '9' })).toEqual({
      TRELLIS_WIREGUARD_GO: '/usr/bin/wireguard-go',
      TRELLIS_LOG_LEVEL: 'info',
      TRELLIS_PROBE_PORT: '9',
    });
    expect(labSettingsAtUp({ PATH: '/bin' })).toEqual({});
  });

  it('gives a process no TRELLIS_* variable of the caller, only the lab and node settings', () => {
    const env = labChildEnv(caller, { TRELLIS_LOG_LEVEL: 'info' }, { TRELLIS_WIREGUARD_GO: '/opt/wg' });
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/root', TRELLIS_LOG_LEVEL: 'info', TRELLIS_WIREGUARD_GO: '/opt/wg' });
    expect(labChildEnv(caller, {})).toEqual({ PATH: '/usr/bin', HOME: '/root' });
  });
});
