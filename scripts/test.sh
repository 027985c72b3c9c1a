#!/usr/bin/env bash
# Runs the whole suite (unit and end-to-end) once. The end-to-end tests share one lab, so they run
# in band; the unit tests (no lab, no namespaces) run beside them in a second Jest process at the
# lowest CPU priority, so they take only the CPU the end-to-end tests leave idle while they wait on
# their labs. The unit output is printed after the end-to-end output; both Jest JSON reports are
# merged into test/artifacts/jest.json. The last line is "N passed, N failed", from that report.
# With arguments (e.g. --selectProjects e2e --testPathPattern x) it runs one Jest with them, in band.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test/artifacts
rm -f test/artifacts/jest.json test/artifacts/jest-unit.json test/artifacts/jest-e2e.json test/artifacts/unit.log

summary() {
  node -e 'const r=require("./test/artifacts/jest.json"); const failed=r.numFailedTests+r.numRuntimeErrorTestSuites; console.log(`${r.numPassedTests} passed, ${failed} failed`)'
}

if [ "$#" -gt 0 ]; then
  npx jest --runInBand --ci --json --outputFile=test/artifacts/jest.json "$@"
  code=$?
  if [ -s test/artifacts/jest.json ]; then summary; else echo "0 passed, 1 failed"; [ "$code" -eq 0 ] && code=1; fi
  exit $code
fi

nice -n 19 npx jest --selectProjects unit --runInBand --ci --json --outputFile=test/artifacts/jest-unit.json >test/artifacts/unit.log 2>&1 &
unit_pid=$!
# Whatever ends this script ends the unit run too.
trap 'kill "$unit_pid" 2>/dev/null' EXIT
npx jest --selectProjects e2e --runInBand --ci --json --outputFile=test/artifacts/jest-e2e.json
e2e_code=$?
wait "$unit_pid"
unit_code=$?
trap - EXIT
echo "--- unit tests (run beside the end-to-end tests) ---"
cat test/artifacts/unit.log

code=0
[ "$e2e_code" -eq 0 ] && [ "$unit_code" -eq 0 ] || code=1
if [ -s test/artifacts/jest-unit.json ] && [ -s test/artifacts/jest-e2e.json ]; then
  node scripts/merge-jest-reports.js test/artifacts/jest.json test/artifacts/jest-unit.json test/artifacts/jest-e2e.json || code=1
fi
if [ -s test/artifacts/jest.json ]; then
  summary
else
  echo "0 passed, 1 failed"
  code=1
fi
exit $code
