"""What every part of the project shares: the error hierarchy and atomic file writes."""
