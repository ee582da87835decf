"""Pure pandas / scikit-learn computations (no Dash, no SQL).

``use_python_strings()`` stores pandas text as Python objects for the whole process: pandas 3
otherwise backs every ``str`` column *and every column-label index* with Arrow, so each
``frame[name]`` converts Arrow to NumPy; under load that was a fifth of the server's time
(py-spy), and views compute 15–25 % faster without it; the importer reads and validates faster
too (docs/PERFORMANCE.md). A process option is no business of an import: the app factory, the
command-line entry points that import or compute views and the tests' conftest call it.
"""

import pandas as pd

STRING_STORAGE = "python"


def use_python_strings() -> None:
    """Store pandas text as Python objects in this process (idempotent)."""
    pd.set_option("mode.string_storage", STRING_STORAGE)
