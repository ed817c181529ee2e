"""One-off studies behind the project's choices: their scripts, configs, outputs, write-ups."""
