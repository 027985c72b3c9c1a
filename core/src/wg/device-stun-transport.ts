/**
 * deviceStunTransport carries the agent's STUN binding requests on the WireGuard socket itself,
 * through trellis-wg's control socket (DeviceDatagramChannel): the reflexive address a STUN server
 * answers is then the NAT mapping WireGuard's own datagrams use, which is the only one worth
 * advertising as a candidate. A plain UDP socket of the agent's would get a mapping of its own.
 *
 *   const ch = await DeviceDatagramChannel.connect(controlSocketPath('trellis0'));
 *   const r = await stunBinding(deviceStunTransport(ch), { family: 'IPv4', address: '198.51.100.1', port: 3478 });
 *   // r.mapped is what the server saw of the WireGuard socket, e.g. 203.0.113.7:51820 behind a NAT
 */
import { toTransportAddress, transportAddressText, type StunTransport } from '../stun';
import { parseUdpEndpoint } from './control-frame';
import type { DeviceDatagram, DeviceDatagramChannel } from './device-datagram-channel';

export interface DeviceStunTransportOptions {
  /** Local address the requests leave from (one uplink of several); default: routing chooses. */
  from?: string;
}

/** deviceStunTransport is a StunTransport over a device's control socket: only STUN datagrams reach the receiver. */
export function deviceStunTransport(channel: DeviceDatagramChannel, opts: DeviceStunTransportOptions = {}): StunTransport {
  return {
    send: (datagram, to) => channel.send(transportAddressText(to), datagram, opts.from),
    receive: (onDatagram) => {
      const listener = (d: DeviceDatagram) => {
        if (d.kind !== 'stun') return;
        const from = parseUdpEndpoint(d.from);
        if (from) onDatagram(d.payload, toTransportAddress({ address: from.ip, port: from.port }));
      };
      channel.on('datagram', listener);
      return () => channel.off('datagram', listener);
    },
  };
}
