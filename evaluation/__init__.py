"""SEND test-and-learn evaluation toolkit.

Pipeline: :mod:`evaluation.ingest` -> :mod:`evaluation.panel` -> :mod:`evaluation.models` ->
:mod:`evaluation.area` -> :mod:`evaluation.reports`.  See ARCHITECTURE.md.
"""

import os

# Our matrices are small (hundreds of rows); a multi-threaded BLAS only adds contention, and on
# a busy 2-core machine it made a 750 x 155 least-squares solve 25 times slower.  Parallelism
# comes from processes instead (``make reports JOBS=n``).  A caller's explicit setting wins;
# this only takes effect if numpy has not been imported yet.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
