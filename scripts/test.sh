#!/usr/bin/env bash
# Runs the whole suite (unit and end-to-end) once, in two Jest processes side by side:
# - the lab side: every end-to-end test that makes network namespaces, labs or devices (they share
#   one lab, its bridge and addresses), in band;
# - beside it, at the lowest CPU priority (nice 19, so the lab side's timing is not starved): the unit
#   tests and the end-to-end tests that make no namespace, device or lab (SIDE_E2E below: real
#   controllers on loopback, ClickHouse and PostgreSQL on private ports, Chromium, the CLI), in band.
#   They use the CPU the lab side leaves idle while it waits on its labs.
# A test file that starts making namespaces or a lab must leave SIDE_E2E. The side's output is
# printed after the lab side's; both Jest JSON reports are merged into test/artifacts/jest.json,
# and the last line is "N passed, N failed" from it; the exit code is non-zero if either failed.
# With arguments (e.g. --selectProjects e2e --testPathPattern x) it runs one Jest with them, in band.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test/artifacts
rm -f test/artifacts/jest.json test/artifacts/jest-side.json test/artifacts/jest-lab.json test/artifacts/side.log

summary() {
  node -e 'const r=require("./test/artifacts/jest.json"); const failed=r.numFailedTests+r.numRuntimeErrorTestSuites; console.log(`${r.numPassedTests} passed, ${failed} failed`)'
}

if [ "$#" -gt 0 ]; then
  npx jest --runInBand --ci --json --outputFile=test/artifacts/jest.json "$@"
  code=$?
  if [ -s test/artifacts/jest.json ]; then summary; else echo "0 passed, 1 failed"; [ "$code" -eq 0 ] && code=1; fi
  exit $code
fi

SIDE_E2E='/test/(api-fuzz|bad-input|clickhouse-current|clickhouse-pipeline|console-layout|dashboards-fresh|dashboards-push|dashboards-queries|pg-store|policy-differential|policy-lifecycle|rego-policies|threat-alerts|trellis-command)\.e2e\.test\.ts$'
# Every unit test (any path that is not an end-to-end test), and the end-to-end tests of SIDE_E2E.
# setsid gives the side a session, and with CFS autogroup a scheduling group, of its own: nice 19 on
# its processes weighs only inside that group, so against the lab side it got half the CPU (relay.e2e
# then lost its one-second handshake window twice in four full runs). The side therefore gives its
# group nice 19 too (from inside, after setsid, so it is its own group), and takes only what the lab
# side leaves idle, as intended.
setsid bash -c 'echo 19 >"/proc/$$/autogroup" 2>/dev/null; exec nice -n 19 "$@"' side npx jest --selectProjects unit e2e --testPathPattern "^(?!.*\.e2e\.test\.ts\$)|$SIDE_E2E" --runInBand --ci --json --outputFile=test/artifacts/jest-side.json >test/artifacts/side.log 2>&1 &
side_pid=$!
# Whatever ends this script ends the side run too (setsid made it a process group of its own).
trap 'kill -- "-$side_pid" 2>/dev/null' EXIT
npx jest --selectProjects e2e --testPathIgnorePatterns '/node_modules/' "$SIDE_E2E" --runInBand --ci --json --outputFile=test/artifacts/jest-lab.json
lab_code=$?
wait "$side_pid"
side_code=$?
trap - EXIT
echo "--- unit tests and end-to-end tests without a lab (run beside the lab side) ---"
cat test/artifacts/side.log

code=0
[ "$lab_code" -eq 0 ] && [ "$side_code" -eq 0 ] || code=1
if [ -s test/artifacts/jest-side.json ] && [ -s test/artifacts/jest-lab.json ]; then
  node scripts/merge-jest-reports.js test/artifacts/jest.json test/artifacts/jest-lab.json test/artifacts/jest-side.json || code=1
fi
if [ -s test/artifacts/jest.json ]; then
  summary
else
  echo "0 passed, 1 failed"
  code=1
fi
exit $code
