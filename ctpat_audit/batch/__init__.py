"""Many reports at once: selection, workers, the index and the Dask cluster path (each
worker renders with the fork engine of ``reports`` from a read-only snapshot of the
workspace; the coordinating process alone records signatures: ``record``).

Imports ``reports`` and everything below it.
"""
