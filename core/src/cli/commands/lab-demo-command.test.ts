import { tunnelLine } from './lab-demo-command';

describe('tunnelLine', () => {
  it('pads the counter to the total and prints the RTT in ms with µs precision', () => {
    expect(tunnelLine({ from: 'n2', to: 'n4', rttUs: 380, afterMs: 2100, index: 7, total: 20 })).toBe(
      '[ 7/20] n2 → n4 up  rtt 0.380 ms  +2.1s',
    );
    expect(tunnelLine({ from: 'n1', to: 'n2', rttUs: 1234, afterMs: 950, index: 2, total: 2 })).toBe(
      '[2/2] n1 → n2 up  rtt 1.234 ms  +0.9s',
    );
  });
});
