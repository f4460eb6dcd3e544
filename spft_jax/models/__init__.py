"""Flax NNX decoders for the Llama / Qwen2 / Mistral families, their configs, weight IO and
tokenizers. Knows nothing about SQL."""
