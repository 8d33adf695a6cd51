"""Many reports at once: selection, workers, the index, the Dask cluster path and the warm kernel pool.

Imports ``reports`` and everything below it.
"""
