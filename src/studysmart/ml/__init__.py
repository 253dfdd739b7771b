"""StudySmart's model library: pure NumPy/SciPy (and lazily torch); no web or database imports."""
