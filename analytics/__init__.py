"""Pure pandas / scikit-learn computations: DataFrame in, result out. No Dash, no SQL."""
