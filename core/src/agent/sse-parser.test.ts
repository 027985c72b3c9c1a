import { SseParser, type SseEvent } from './sse-parser';

const STREAM =
  ': hello comment\r\n' +
  'event: map\r\n' +
  'data: {"kind":"full","name":"nœud-α"}\r\n' +
  '\r\n' +
  'event: ping\n' +
  'data:\n' +
  '\n' +
  'data: line one\n' +
  'data: line two\n' +
  'id: 7\n' +
  '\n' +
  'event: map\r' +
  'data: {"x":1}\r' +
  '\r';

const EXPECTED: SseEvent[] = [
  { event: 'map', data: '{"kind":"full","name":"nœud-α"}' },
  { event: 'ping', data: '' },
  { event: 'message', data: 'line one\nline two', id: '7' },
  // The last event id persists across events, as in the EventSource spec.
  { event: 'map', data: '{"x":1}', id: '7' },
];

function feed(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

describe('SseParser', () => {
  const bytes = Buffer.from(STREAM, 'utf8');

  it('parses a stream given whole', () => {
    expect(feed([bytes])).toEqual(EXPECTED);
  });

  it('gives the same events for every split point (inside CRLF, inside UTF-8 characters)', () => {
    for (let i = 1; i < bytes.length; i++) {
      expect(feed([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(EXPECTED);
    }
  });

  it('gives the same events byte by byte and in random chunks', () => {
    expect(feed([...bytes].map((b) => Uint8Array.of(b)))).toEqual(EXPECTED);
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 7) + 1;
    for (let round = 0; round < 50; round++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; ) {
        const n = rand();
        chunks.push(bytes.subarray(i, i + n));
        i += n;
      }
      expect(feed(chunks)).toEqual(EXPECTED);
    }
  });

  it('drops an event whose blank line never came', () => {
    const p = new SseParser();
    expect(p.push('event: map\ndata: partial\n')).toEqual([]);
    expect(p.end()).toEqual([]);
  });
});
