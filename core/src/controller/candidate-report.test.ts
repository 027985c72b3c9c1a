import type { NodeRecord } from '../store/store';
import { candidatesOf, reportedCandidates } from './candidate-report';

const NOW = 1_700_000_000_000;
const node = (over: Partial<NodeRecord> = {}) => ({ createdAt: NOW - 1000, endpoints: ['198.18.0.1:51820'], candidates: null, ...over }) as NodeRecord;

describe('candidate reports', () => {
  it('reads a node that reported addresses only as local candidates learned at enrolment', () => {
    expect(candidatesOf(node())).toEqual([{ kind: 'local', address: '198.18.0.1:51820', learnedAt: NOW - 1000 }]);
    // Candidates that no longer match the endpoints are not trusted either.
    expect(candidatesOf(node({ candidates: [{ kind: 'uplink', address: '198.19.0.1:51820', learnedAt: 1 }] }))[0]!.kind).toBe('local');
  });

  it('takes a version-1 report as local candidates: new addresses learned now, known ones keep their time', () => {
    const prev = node({ endpoints: ['198.18.0.1:51820'], candidates: [{ kind: 'local', address: '198.18.0.1:51820', learnedAt: 5 }] });
    expect(reportedCandidates({ endpoints: ['198.18.0.1:51820', '[2001:DB8::1]:51820'] }, prev, NOW)).toEqual({
      endpoints: ['198.18.0.1:51820', '[2001:db8::1]:51820'],
      candidates: [
        { kind: 'local', address: '198.18.0.1:51820', learnedAt: 5 },
        { kind: 'local', address: '[2001:db8::1]:51820', learnedAt: NOW },
      ],
    });
    // The same addresses again: what is stored stays as it is.
    expect(reportedCandidates({ endpoints: ['198.18.0.1:51820'] }, node(), NOW)).toEqual({ endpoints: ['198.18.0.1:51820'], candidates: null });
  });

  it('canonicalises version-2 addresses and keeps kind, time and source', () => {
    const r = reportedCandidates({ endpoints: ['[2001:DB8::1]:51820'], candidates: [{ kind: 'uplink', address: '[2001:DB8::1]:51820', learnedAt: NOW, source: 'eth1' }] }, null, NOW);
    expect(r.candidates).toEqual([{ kind: 'uplink', address: '[2001:db8::1]:51820', learnedAt: NOW, source: 'eth1' }]);
  });
});
