"""KV-cache sampling: jitted prefill + decode loop, greedy / temperature / top-k / top-p, n samples,
EOS and stop strings, per-token log-probs, optional data-parallel mesh."""

from spft_jax.sampling.params import SamplingError, SamplingParams
from spft_jax.sampling.sampler import Completion, GeneratedArrays, Sampler

__all__ = ["Completion", "GeneratedArrays", "Sampler", "SamplingError", "SamplingParams"]
