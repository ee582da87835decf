"""Pure pandas / scikit-learn computations (no Dash, no SQL).

Importing this package sets pandas' text storage to Python objects for the whole process:
pandas 3 otherwise backs every ``str`` column *and every column-label index* with Arrow, so
each ``frame[name]`` converts Arrow to NumPy; under load that was a fifth of the server's time
(py-spy), and views compute 15–25 % faster without it (docs/PERFORMANCE.md).
"""

import pandas as pd

pd.set_option("mode.string_storage", "python")
