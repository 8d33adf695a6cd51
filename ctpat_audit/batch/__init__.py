"""Many reports at once: selection, workers, the index and the Dask cluster path (each
worker renders with the fork engine of ``reports``).

Imports ``reports`` and everything below it.
"""
