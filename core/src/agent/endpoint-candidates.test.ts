import { CandidateBook, MAX_CANDIDATES, underlayCandidates } from './endpoint-candidates';

describe('underlayCandidates', () => {
  it("makes the first interface's addresses local and every other interface's uplinks, with the listen port", () => {
    expect(underlayCandidates([{ ifname: 'eth0', addresses: ['198.18.0.1', '2001:db8::1'] }, { ifname: 'wwan0', addresses: ['198.19.0.1'] }], 51820)).toEqual([
      { kind: 'local', address: '198.18.0.1:51820', source: 'eth0' },
      { kind: 'local', address: '[2001:db8::1]:51820', source: 'eth0' },
      { kind: 'uplink', address: '198.19.0.1:51820', source: 'wwan0' },
    ]);
  });
});

describe('CandidateBook', () => {
  it('stamps each address with when it was first seen, keeps that while it stays, and learns it anew after it went', () => {
    let now = 1000;
    const book = new CandidateBook(() => now);
    const local = { kind: 'local' as const, address: '198.18.0.1:51820', source: 'eth0' };
    const stun = { kind: 'reflexive' as const, address: '203.0.113.7:40001', source: 'stun 198.51.100.1:3478' };
    expect(book.stamp([local])).toEqual([{ ...local, learnedAt: 1000 }]);
    now = 2000;
    expect(book.stamp([local, stun])).toEqual([{ ...local, learnedAt: 1000 }, { ...stun, learnedAt: 2000 }]);
    now = 3000;
    expect(book.stamp([stun])).toEqual([{ ...stun, learnedAt: 2000 }]);
    now = 4000;
    expect(book.stamp([local, stun])[0]).toEqual({ ...local, learnedAt: 4000 });
  });

  it('lists an address once (the first kind found wins) and at most as many as the controller takes', () => {
    const book = new CandidateBook(() => 5);
    const same = book.stamp([
      { kind: 'local', address: '198.18.0.1:51820' },
      { kind: 'reflexive', address: '198.18.0.1:51820', source: 'relay n3' },
    ]);
    expect(same).toEqual([{ kind: 'local', address: '198.18.0.1:51820', learnedAt: 5 }]);
    const many = book.stamp(Array.from({ length: 20 }, (_, i) => ({ kind: 'local' as const, address: `198.18.0.${i + 1}:51820` })));
    expect(many).toHaveLength(MAX_CANDIDATES);
  });
});
