"""``python -m evaluation``: the command line (:func:`evaluation.cli.main`)."""

import sys

from evaluation.cli import main

sys.exit(main())
