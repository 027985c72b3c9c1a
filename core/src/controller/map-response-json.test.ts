import fc from 'fast-check';
import type { MapResponse } from '../netmap/types';
import { mapResponseJson } from './map-response-json';

const deepFreeze = <T>(v: T): T => {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v as object)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
};

describe('mapResponseJson', () => {
  it('gives exactly what JSON.stringify gives, for any JSON-like value, frozen or not, again and again', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: false, withBigInt: false, withTypedArray: false, withSparseArray: true, withBoxedValues: false }), fc.boolean(), (v, freeze) => {
        const value = freeze ? deepFreeze(v) : v;
        const want = JSON.stringify({ kind: 'delta', value });
        expect(mapResponseJson({ kind: 'delta', value } as unknown as MapResponse)).toBe(want);
        expect(mapResponseJson({ kind: 'delta', value } as unknown as MapResponse)).toBe(want);
      }),
      { numRuns: 500 },
    );
  });

  it('shares the text of a frozen srcIps between deltas, and never keeps that of a value that can still change', () => {
    const srcIps = Object.freeze(['100.64.0.1', '100.64.0.2']);
    const a = { kind: 'delta', packetFilter: [{ srcIps, proto: 'any', dstPorts: [] }] } as unknown as MapResponse;
    expect(mapResponseJson(a)).toBe(JSON.stringify(a));
    const reasons = ['disk is not encrypted'];
    const ext = Object.freeze({ 'posture-opa': { quarantined: true, reasons } });
    const b = { kind: 'delta', extensions: ext } as unknown as MapResponse;
    expect(mapResponseJson(b)).toBe(JSON.stringify(b));
    reasons.push('old kernel');
    expect(mapResponseJson(b)).toBe(JSON.stringify(b));
  });
});
