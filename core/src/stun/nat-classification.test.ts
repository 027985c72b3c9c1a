import { classifyNat } from './nat-classification';

const s1 = { family: 'IPv4' as const, address: '198.18.0.1', port: 3478 };
const s2 = { family: 'IPv4' as const, address: '198.18.0.2', port: 3478 };
const at = (address: string, port: number) => ({ family: 'IPv4' as const, address, port });

describe('classifyNat', () => {
  it('the same mapping from two servers is endpoint-independent (easy)', () => {
    expect(classifyNat([{ server: s1, mapped: at('198.18.0.11', 40000) }, { server: s2, mapped: at('198.18.0.11', 40000) }])).toEqual({
      type: 'easy',
      reason: 'endpoint-independent mapping: 2 servers all saw 198.18.0.11:40000',
    });
  });

  it('different mappings are per destination (hard); a different port alone is enough', () => {
    const r = classifyNat([{ server: s1, mapped: at('198.18.0.11', 40000) }, { server: s2, mapped: at('198.18.0.11', 51234) }]);
    expect(r.type).toBe('hard');
    expect(r.reason).toBe('the mapping depends on the destination: 198.18.0.1:3478 saw 198.18.0.11:40000, 198.18.0.2:3478 saw 198.18.0.11:51234');
  });

  it('a mapping equal to the socket\'s own address is no NAT (open)', () => {
    const own = at('198.18.0.13', 40000);
    expect(classifyNat([{ server: s1, mapped: own }, { server: s2, mapped: own }], [at('10.0.0.1', 40000), own]).type).toBe('open');
  });

  it('too few servers or answers is unknown, saying why', () => {
    expect(classifyNat([{ server: s1, mapped: at('1.2.3.4', 1) }, { server: s1, mapped: at('1.2.3.4', 1) }])).toMatchObject({ type: 'unknown', reason: expect.stringMatching(/two STUN server addresses/) });
    expect(classifyNat([{ server: s1, mapped: at('1.2.3.4', 1) }, { server: s2, mapped: null }])).toEqual({
      type: 'unknown',
      reason: '1 of 2 STUN servers answered; two answers are needed to compare mappings',
    });
  });
});
