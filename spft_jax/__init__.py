"""spft-jax: SPFT-SQL self-play fine-tuning for Text-to-SQL, in JAX / Flax NNX."""

__version__ = "0.1.0"
