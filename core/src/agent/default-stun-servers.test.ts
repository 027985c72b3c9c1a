import { defaultStunServers } from './default-stun-servers';

describe('defaultStunServers', () => {
  it("is the controller's host on 3478", () => {
    expect(defaultStunServers('https://198.18.0.1:4000')).toEqual(['198.18.0.1:3478']);
  });
  it('takes every controller of a list, once per host', () => {
    expect(defaultStunServers('https://198.18.0.1:4000, https://198.18.0.2:4000/,https://198.18.0.2:4001')).toEqual(['198.18.0.1:3478', '198.18.0.2:3478']);
  });
  it('keeps IPv6 hosts bracketed', () => {
    expect(defaultStunServers('https://[fd00::1]:4000')).toEqual(['[fd00::1]:3478']);
  });
  it('gives none for a list that is not URLs', () => {
    expect(defaultStunServers('not a url')).toEqual([]);
  });
});
