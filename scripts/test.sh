#!/usr/bin/env bash
# Runs the whole suite (unit and end-to-end) once, serially: the end-to-end tests share one lab.
# The last line is "N passed, N failed", from Jest's own report.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test/artifacts
rm -f test/artifacts/jest.json
npx jest --runInBand --ci --json --outputFile=test/artifacts/jest.json "$@"
code=$?
if [ -s test/artifacts/jest.json ]; then
  node -e 'const r=require("./test/artifacts/jest.json"); const failed=r.numFailedTests+r.numRuntimeErrorTestSuites; console.log(`${r.numPassedTests} passed, ${failed} failed`)'
else
  echo "0 passed, 1 failed"
  [ "$code" -eq 0 ] && code=1
fi
exit $code
