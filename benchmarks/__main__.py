"""``python -m benchmarks``: npae against PyTorch, speed (see ``benchmarks/speed.py``).

    python -m benchmarks --quick      # under a minute
    python -m benchmarks              # the full run
    python -m benchmarks.profile      # only the profile of one training step
    python -m benchmarks.quality      # detection quality on real data (another benchmark)
"""

import sys

from .speed import main

if __name__ == "__main__":
    sys.exit(main())
