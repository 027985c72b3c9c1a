'use strict';
/** Small statistics for benchmark samples: medians and percentiles over sorted copies. */
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}
const median = (v) => percentile(v, 50);
const round = (x, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);
module.exports = { percentile, median, round };
