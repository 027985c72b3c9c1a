"""Runs ClickHouse SQL through chDB (ClickHouse 26.x in-process) for the e2e suite.

Usage: .venv-chdb/bin/python chdb-statements.py <data-dir>
Writes {"version": "..."} first, then answers each stdin line {"sql": "..."} with one stdout line:
{"columns": [...], "types": [...], "rows": [{column: value}]} (empty for DDL and INSERT), or
{"error": "..."}. Statements run one at a time in one session whose tables live in <data-dir>.
"""
import json
import sys

from chdb import session


def main() -> None:
    sess = session.Session(sys.argv[1])

    def send(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    send({"version": sess.query("SELECT version()", "TSV").bytes().decode().strip()})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            body = sess.query(json.loads(line)["sql"], "JSON").bytes()
            if not body.strip():
                send({"columns": [], "types": [], "rows": []})
                continue
            answer = json.loads(body)
            meta = answer["meta"]
            send({"columns": [m["name"] for m in meta], "types": [m["type"] for m in meta], "rows": answer["data"]})
        except Exception as err:  # every engine error goes back to the test, which names the statement
            send({"error": str(err)})
    sess.close()


if __name__ == "__main__":
    main()
