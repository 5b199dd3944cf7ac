"""Run a command and write its peak memory (the largest resident set of it and what it waited
for, in KB) to the file named by the first argument: ``python peak.py OUT CMD...``.

A process this small starts the command: Linux gives an exec'd child the high-water mark of the
process it was forked from, so a child of the benchmark itself (which holds the documents it
read) would report the benchmark's memory instead of its own.
"""

import os
import sys


def main() -> int:
    out, cmd = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as file:
        file.write(f"{usage.ru_maxrss}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
