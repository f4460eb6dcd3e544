"""Rows that never wait, shared prefixes by family, the cache dtype: none changes what a row
generates (tiny random model)."""

import numpy as np
import pytest

from spft_jax.sampling import Sampler, SamplingParams
from tests.sampling.helpers import PieceTokenizer, log_softmax, tiny_model, uncached_logits

RNG = np.random.default_rng(3)
PROMPTS = [RNG.integers(1, 61, size).tolist() for size in (7, 1, 20, 3, 9, 14, 5)]
STEPS = 12


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def _eos_for(model):
    """A token the unconstrained greedy decoding of the prompts emits at different steps, so
    rows finish at different times."""
    plain = Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0)
    outputs = [c[0].token_ids for c in plain.generate(PROMPTS, SamplingParams(max_new_tokens=STEPS))]
    counts = {}
    for tokens in outputs:
        for token in set(tokens):
            counts[token] = counts.get(token, 0) + 1
    return max(counts, key=lambda t: (counts[t] < len(PROMPTS), counts[t]))


def _tokens(completions):
    return [[c.token_ids for c in samples] for samples in completions]


@pytest.mark.parametrize("params", [
    SamplingParams(max_new_tokens=STEPS),
    SamplingParams(max_new_tokens=STEPS, temperature=1.0, n=2, seed=11),
], ids=["greedy", "sampled n=2"])
def test_refill_gives_what_one_big_batch_gives(model, params):
    eos = _eos_for(model)
    big = Sampler(model, PieceTokenizer(), eos_token_ids=[eos], pad_token_id=0)
    reference = big.generate(PROMPTS, params)
    lengths = {len(c.token_ids) for samples in reference for c in samples}
    assert len(lengths) > 1, "rows should finish at different steps"
    for refill in (True, False):
        # Two rows for seven prompts: the queue goes through the batch.
        small = Sampler(model, PieceTokenizer(), eos_token_ids=[eos], pad_token_id=0,
                        max_batch_rows=2 * params.n, refill=refill)
        out = small.generate(PROMPTS, params)
        assert _tokens(out) == _tokens(reference), refill
        for a, b in zip(out, reference):
            for x, y in zip(a, b):
                assert x.finish_reason == y.finish_reason
                np.testing.assert_allclose(x.logprobs, y.logprobs, atol=1e-5)


def test_refill_with_stop_checks_gives_what_one_big_batch_gives(model):
    """Stop checks return to the host every few steps; refill still waits for enough free rows
    and no row's tokens change (a stop pattern cuts some rows, EOS others)."""
    import re

    eos = _eos_for(model)
    decode = PieceTokenizer().decode
    params = SamplingParams(max_new_tokens=STEPS)
    big = Sampler(model, PieceTokenizer(), eos_token_ids=[eos], pad_token_id=0)
    text = max((decode(c[0].token_ids) for c in big.generate(PROMPTS, params)), key=len)
    middle = text[len(text) // 2: len(text) // 2 + 2]
    params = params.replace(stop=(re.compile(re.escape(middle)),), stop_check_interval=2)
    reference = big.generate(PROMPTS, params)
    reasons = {c.finish_reason for samples in reference for c in samples}
    assert "stop" in reasons and len(reasons) > 1, reasons
    small = Sampler(model, PieceTokenizer(), eos_token_ids=[eos], pad_token_id=0, max_batch_rows=2)
    out = small.generate(PROMPTS, params)
    assert _tokens(out) == _tokens(reference)
    assert [c[0].text for c in out] == [c[0].text for c in reference]


def test_progress_counts_every_prompt_once(model):
    sampler = Sampler(model, PieceTokenizer(), eos_token_ids=[_eos_for(model)], pad_token_id=0,
                      max_batch_rows=4)
    calls = []
    sampler.generate(PROMPTS, SamplingParams(max_new_tokens=STEPS, n=2, temperature=1.0),
                     progress=calls.append)
    assert sum(calls) == len(PROMPTS) and all(k > 0 for k in calls)


def test_families_share_their_own_prefix(model):
    schema_a = RNG.integers(1, 61, 40).tolist()
    schema_b = RNG.integers(1, 61, 50).tolist()
    prompts = [schema_a + p for p in PROMPTS[:4]] + [schema_b + p for p in PROMPTS[4:]]
    families = ["a"] * 4 + ["b"] * 3
    order = [0, 4, 1, 5, 2, 6, 3]  # families interleaved in the call
    params = SamplingParams(max_new_tokens=STEPS, temperature=0.9, seed=2)
    unshared = Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0,
                       share_prefix=False)
    shared = Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0, max_batch_rows=2)
    expected = unshared.generate([prompts[i] for i in order], params)
    by_family = shared.generate([prompts[i] for i in order], params,
                                families=[families[i] for i in order])
    # Without families, the prompts' common prefix is empty: nothing is shared, same result.
    automatic = shared.generate([prompts[i] for i in order], params)
    assert _tokens(by_family) == _tokens(expected) == _tokens(automatic)
    for a, b in zip(by_family, expected):
        np.testing.assert_allclose(a[0].logprobs, b[0].logprobs, atol=1e-5)


def test_a_common_prefix_is_found_and_shared(model):
    schema = RNG.integers(1, 61, 45).tolist()
    prompts = [schema + p for p in PROMPTS]
    params = SamplingParams(max_new_tokens=STEPS)
    plain = Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0, share_prefix=False)
    auto = Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0)
    prefills = []
    original = auto._prefill_prefix
    auto._prefill_prefix = lambda ids: prefills.append(len(ids)) or original(ids)
    assert _tokens(auto.generate(prompts, params)) == _tokens(plain.generate(prompts, params))
    # The whole schema plus the prompts' own common start (PROMPTS share none) is prefilled once.
    assert prefills == [45]


def test_a_bfloat16_cache_keeps_the_model_close(model):
    sampler = Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0,
                      cache_dtype="bfloat16")
    out = sampler.generate(PROMPTS, SamplingParams(max_new_tokens=STEPS))
    # Two prompts, four tokens each: every checked length compiles the reference forward anew.
    for prompt, (completion,) in zip(PROMPTS[:2], out):
        sequence = list(prompt)
        for token, logprob in zip(completion.token_ids[:4], completion.logprobs[:4]):
            # The fp32 model's log-prob of the token bf16 keys/values chose.
            assert logprob == pytest.approx(log_softmax(uncached_logits(model, sequence))[token],
                                            abs=3e-2)
            sequence.append(token)


def test_a_bad_cache_dtype_is_a_clear_error(model):
    from spft_jax.errors import ConfigError
    with pytest.raises(ConfigError, match="cache_dtype"):
        Sampler(model, PieceTokenizer(), cache_dtype="float17")
