"""Installed packages vs the pins in requirements*.txt: ``python scripts/check_deps.py [--test]``.

The same as the ``o2o-check-deps`` command; the check itself is ``serving.dependencies``.
"""

import sys

from serving.dependencies import main

if __name__ == "__main__":
    sys.exit(main())
