/** A fixed AgentStatus for renderer and command tests; NOW is the clock it was taken at. */
import type { AgentStatus } from '../../wire';

export const NOW = 1_700_000_000_000;

export const FIXED_STATUS: AgentStatus = {
  node: {
    id: 'node-1',
    name: 'n1',
    iface: 'trlwg1',
    addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:7e11:5000::1' },
    wgKey: 'kX3mV0qkT4o8cUj0cQ0Vt3F0m7bqgqS6bO1Wk1q9eWc=',
    listenPort: 51820,
  },
  controller: { url: 'http://198.18.0.1:8080', connected: true, lastError: null },
  map: { version: 7, epoch: 'e1', source: 'controller', appliedAt: NOW - 12_000 },
  peers: [
    {
      id: 'node-3',
      name: 'n3',
      wgKey: 'k3',
      addresses: { ipv4: '100.64.0.3', ipv6: 'fd7a:7e11:5000::3' },
      endpoint: null,
      allowedIps: ['100.64.0.3/32'],
      lastHandshake: null,
      rxBytes: 0,
      txBytes: 148,
      probe: null,
    },
    {
      id: 'node-2',
      name: 'n2',
      wgKey: 'k2',
      addresses: { ipv4: '100.64.0.2', ipv6: 'fd7a:7e11:5000::2' },
      endpoint: '198.18.0.12:51820',
      allowedIps: ['100.64.0.2/32', 'fd7a:7e11:5000::2/128'],
      lastHandshake: NOW - 3_200,
      rxBytes: 1536,
      txBytes: 2 * 1024 * 1024,
      probe: { peerId: 'node-2', peerName: 'n2', rttUs: 412, loss: 0.05, jitterUs: 37, sent: 20, received: 19, early: 0, replied: true },
    },
  ],
  posture: null,
  extensions: {},
};
