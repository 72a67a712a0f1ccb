"""`python -m animegan_tf ...` is the same as the `animegan-tf` console script."""

import sys

from .cli import main

sys.exit(main())
