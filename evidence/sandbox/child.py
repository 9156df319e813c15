"""The sandboxed process (started by ``evidence.sandbox.run_in_sandbox`` with ``module:function``).

Reads the JSON payload from stdin, calls ``function(payload, Path.cwd())`` and writes its
result as JSON to stdout. Never imports Django: there are no settings, no database and no
secrets in this process.
"""

import importlib
import json
import sys
from pathlib import Path


def run(task: str) -> int:
    """Run ``task`` ("module:function") on the payload in stdin; its result goes to stdout."""
    module_name, _, function_name = task.partition(":")
    if not module_name.startswith(("evidence.sandbox.", "tests.")) or not function_name:
        print(f"refused task {task!r}", file=sys.stderr)
        return 2
    function = getattr(importlib.import_module(module_name), function_name)
    payload = json.loads(sys.stdin.buffer.read() or b"{}")
    result = function(payload, Path.cwd())
    sys.stdout.write(json.dumps(result, allow_nan=False))
    sys.stdout.flush()
    return 0


def main() -> int:
    return run(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
