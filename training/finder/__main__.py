"""`python -m training.finder --preset quick [--section.key value ...]`."""

import sys

from training.finder.train import main

if __name__ == "__main__":
    sys.exit(main())
