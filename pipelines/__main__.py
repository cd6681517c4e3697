"""`python -m pipelines` is the same as the `marketing-elt` console script."""

import sys

from pipelines.cli import main

sys.exit(main())
