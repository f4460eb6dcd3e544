"""Training: log-probabilities, losses (SFT and the pairwise self-play family), optimizer and
train state, the sharded jitted step, the trainer loop and checkpoints."""
