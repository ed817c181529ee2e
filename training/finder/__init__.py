"""Training the line finder of whole pages: `python -m training.finder --preset quick`."""
