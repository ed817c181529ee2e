"""From a checkpoint to a release: export model.pt, evaluate it, write its card, publish it."""
