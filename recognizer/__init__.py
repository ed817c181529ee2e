"""Everything scripted into model.pt: preprocessing, the network, CTC and beam decoding."""
