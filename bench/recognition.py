"""Recognition speed on this machine: `python bench/recognition.py [--size 320] [--seconds 10]`.

The same measurement as `foodbot bench --json` (raw forward vs end to end through the batcher, and
latency at half load), printed as one JSON object.
"""

from __future__ import annotations

import sys

from foodbot.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--json", *sys.argv[1:]]))
