"""Training side of the handwriting recognizer: data, model, training, export, publish."""
