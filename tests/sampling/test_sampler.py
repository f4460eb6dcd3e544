"""The sampler on a tiny random model, against the uncached forward recomputed step by step."""

import numpy as np
import pytest

from spft_jax.errors import ConfigError, SpftError
from spft_jax.sampling import Sampler, SamplingError, SamplingParams
from tests.sampling.helpers import (
    TINY, PieceTokenizer, log_softmax, reference_greedy, tiny_model, uncached_logits,
)

RNG = np.random.default_rng(1)
# Different lengths, so the batch mixes buckets (4, 8, 16, 32) and left padding.
PROMPTS = [RNG.integers(0, 61, size).tolist() for size in (7, 1, 20, 3, 9)]
STEPS = 12  # one max_new_tokens for (almost) every test: each distinct value compiles anew


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def sampler(model):
    return Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0)


@pytest.fixture(scope="module")
def greedy(sampler):
    return sampler.generate(PROMPTS, SamplingParams(max_new_tokens=STEPS))


def test_greedy_equals_argmax_of_the_uncached_forward(model, greedy):
    for prompt, (completion,) in zip(PROMPTS, greedy):
        assert completion.token_ids == reference_greedy(model, prompt, STEPS)
        assert completion.finish_reason == "length" and completion.truncated


def test_greedy_does_not_depend_on_batching(model, greedy):
    # Small limits: several decode groups with their own buckets, each prefilled in blocks of
    # their own (smaller) buckets; the prompts in another order.
    small = Sampler(model, PieceTokenizer(), eos_token_ids=[], pad_token_id=0,
                    prompt_buckets=(4, 8, 16, 32), max_batch_rows=3, prefill_tokens=16)
    again = small.generate(PROMPTS[::-1], SamplingParams(max_new_tokens=STEPS))[::-1]
    assert [c[0].token_ids for c in again] == [c[0].token_ids for c in greedy]


def test_logprobs_are_the_model_log_softmax_at_the_chosen_tokens(model, sampler):
    # Sampled with temperature, top-k and top-p: the log-probs still are the raw model's.
    params = SamplingParams(max_new_tokens=STEPS, temperature=0.7, top_k=3, top_p=0.9, n=2, seed=3)
    for prompt, samples in zip(PROMPTS, sampler.generate(PROMPTS, params)):
        for completion in samples:
            assert len(completion.logprobs) == len(completion.token_ids) == STEPS
            sequence = list(prompt)
            for token, logprob in zip(completion.token_ids, completion.logprobs):
                expected = log_softmax(uncached_logits(model, sequence))[token]
                assert logprob == pytest.approx(expected, abs=1e-4)
                sequence.append(token)


def test_cached_prefill_logits_equal_the_uncached_forward(model):
    import jax.numpy as jnp
    from flax import nnx

    from spft_jax.sampling.batching import left_pad
    from spft_jax.sampling.decode import CompiledSampling

    graphdef, state = nnx.split(model)
    tokens, valid = left_pad(PROMPTS[:3], 4, 32, pad_id=0)
    compiled = CompiledSampling(graphdef, None, TINY)
    block = compiled.prefill(state, jnp.asarray(tokens), jnp.asarray(valid))
    for row, prompt in enumerate(PROMPTS[:3]):
        np.testing.assert_allclose(np.asarray(block.logits[row]), uncached_logits(model, prompt),
                                   atol=1e-5)
        assert int(block.next_position[row]) == len(prompt)


@pytest.mark.parametrize("params", [
    SamplingParams(max_new_tokens=STEPS, temperature=1.0, top_k=1, seed=5),
    SamplingParams(max_new_tokens=STEPS, temperature=1.0, top_p=1e-6, seed=5),
    SamplingParams(max_new_tokens=STEPS, temperature=2.0, top_k=4, top_p=1e-6, seed=5),
], ids=["top_k=1", "tiny top_p", "tiny top_p after top_k"])
def test_degenerate_filters_are_greedy(sampler, greedy, params):
    out = sampler.generate(PROMPTS, params)
    assert [c[0].token_ids for c in out] == [c[0].token_ids for c in greedy]


def test_sampled_tokens_stay_inside_top_k_and_top_p(model, sampler):
    top_k, top_p, temperature = 3, 0.5, 1.5
    params = SamplingParams(max_new_tokens=STEPS, temperature=temperature, top_k=top_k,
                            top_p=top_p, n=2, seed=11)
    seen_outside_top1 = False
    for prompt, samples in zip(PROMPTS, sampler.generate(PROMPTS, params)):
        for completion in samples:
            sequence = list(prompt)
            for token in completion.token_ids:
                logits = uncached_logits(model, sequence) / temperature
                order = np.argsort(-logits)[:top_k]
                probs = np.exp(log_softmax(logits[order]))
                nucleus = order[:int(np.searchsorted(np.cumsum(probs), top_p)) + 1]
                assert token in nucleus
                seen_outside_top1 |= token != order[0]
                sequence.append(token)
    assert seen_outside_top1  # the filters restrict, they do not collapse to greedy


def test_samples_differ_and_are_reproducible(sampler):
    params = SamplingParams(max_new_tokens=STEPS, temperature=1.0, n=2, seed=7)
    first = sampler.generate(PROMPTS, params)
    second = sampler.generate(PROMPTS, params)
    assert [[c.token_ids for c in s] for s in first] == [[c.token_ids for c in s] for s in second]
    for samples in first:
        assert len({tuple(c.token_ids) for c in samples}) == 2
        assert [c.sample_index for c in samples] == [0, 1]
    reseeded = sampler.generate(PROMPTS, params.replace(seed=8))
    assert [[c.token_ids for c in s] for s in reseeded] != [[c.token_ids for c in s] for s in first]


def test_a_rows_samples_do_not_depend_on_the_other_prompts(sampler):
    params = SamplingParams(max_new_tokens=STEPS, temperature=1.0, n=2, seed=7)
    alone = sampler.generate(PROMPTS[:1], params)[0]
    assert len(alone) == 2
    together = sampler.generate(PROMPTS, params)[0]
    assert [c.token_ids for c in alone] == [c.token_ids for c in together]


def test_eos_stops_a_row_and_pads_the_rest(model, greedy):
    # Take a token greedy decoding of prompt 0 produces mid-way as the EOS.
    reference = greedy[0][0].token_ids
    eos = reference[3]
    first = reference.index(eos)
    sampler = Sampler(model, PieceTokenizer(), eos_token_ids=[eos], pad_token_id=0)
    arrays = sampler.generate_arrays(PROMPTS, SamplingParams(max_new_tokens=STEPS))
    completions = arrays.completions()
    for row, (prompt, (completion,)) in enumerate(zip(PROMPTS, completions)):
        full = greedy[row][0].token_ids
        if eos in full:
            stop = full.index(eos) + 1
            assert completion.finish_reason == "eos" and not completion.truncated
            assert completion.token_ids == full[:stop]
            assert completion.text == PieceTokenizer().decode(full[:stop - 1])  # EOS has no text
        else:
            stop = STEPS
            assert completion.finish_reason == "length" and completion.token_ids == full
        assert arrays.lengths[row] == stop
        assert (arrays.tokens[row, stop:] == 0).all() and (arrays.logprobs[row, stop:] == 0).all()
        assert (arrays.logprobs[row, :stop] < 0).all()
    assert completions[0][0].token_ids == reference[:first + 1]
    # ignore_eos runs every row to the length limit.
    ignoring = sampler.generate(PROMPTS, SamplingParams(max_new_tokens=STEPS, ignore_eos=True))
    assert [c[0].token_ids for c in ignoring] == [c[0].token_ids for c in greedy]


def _first_prefix_containing(tokens, stop):
    decode = PieceTokenizer().decode
    return next(m for m in range(1, len(tokens) + 1) if stop in decode(tokens[:m]))


@pytest.mark.parametrize("interval", [1, 3, 8])
@pytest.mark.parametrize("include", [False, True])
def test_stop_strings_cut_the_text(sampler, interval, include):
    params = SamplingParams(max_new_tokens=STEPS)
    full = sampler.generate(PROMPTS, params)
    decode = PieceTokenizer().decode
    text0 = decode(full[0][0].token_ids)
    stop = text0[len(text0) // 2: len(text0) // 2 + 2]  # two characters from mid-completion
    out = sampler.generate(PROMPTS, params.replace(
        stop=(stop, "\x00never"), include_stop_str=include, stop_check_interval=interval))
    for (reference,), (completion,) in zip(full, out):
        text = decode(reference.token_ids)
        if stop not in text:
            assert completion.finish_reason == "length"
            assert completion.token_ids == reference.token_ids and completion.text == text
            continue
        cut = text.index(stop) + (len(stop) if include else 0)
        assert completion.text == text[:cut]
        assert completion.finish_reason == "stop" and completion.stop == stop
        m = _first_prefix_containing(reference.token_ids, stop)
        assert completion.token_ids == reference.token_ids[:m]
        assert completion.logprobs == pytest.approx(reference.logprobs[:m])
    assert out[0][0].finish_reason == "stop"


def test_the_earliest_stop_string_wins(sampler):
    params = SamplingParams(max_new_tokens=STEPS)
    (reference,), = sampler.generate(PROMPTS[:1], params)
    text = PieceTokenizer().decode(reference.token_ids)
    early, late = text[2:4], text[-3:]
    assert text.index(early) < text.index(late)
    (completion,), = sampler.generate(PROMPTS[:1], params.replace(stop=(late, early)))
    assert completion.stop == early and completion.text == text[:text.index(early)]


def test_length_limit_is_flagged(sampler):
    (completion,), = sampler.generate(PROMPTS[:1], SamplingParams(max_new_tokens=1))
    assert len(completion.token_ids) == 1 and completion.truncated


def test_bad_input_is_a_clear_error(sampler, model):
    with pytest.raises(SamplingError, match="prompt 1 is empty"):
        sampler.generate([[1], []])
    with pytest.raises(SamplingError, match="outside the vocabulary"):
        sampler.generate([[1, 61]])
    with pytest.raises(SamplingError, match="longer than the largest prompt bucket"):
        Sampler(model, eos_token_ids=[], prompt_buckets=(4, 8)).generate([[1] * 9])
    with pytest.raises(ConfigError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ConfigError, match="temperature"):
        SamplingParams(temperature=-1)
    with pytest.raises(ConfigError, match="stop strings need a sampler with a tokenizer"):
        Sampler(model, eos_token_ids=[]).generate([[1]], SamplingParams(stop=("x",)))
    assert issubclass(SamplingError, SpftError)


def test_new_weights_are_used_without_a_new_sampler(sampler, greedy):
    other = tiny_model(seed=1)
    swapped = Sampler(other, PieceTokenizer(), eos_token_ids=[], pad_token_id=0)
    params = SamplingParams(max_new_tokens=STEPS)
    expected = [c[0].token_ids for c in swapped.generate(PROMPTS, params)]
    assert expected != [c[0].token_ids for c in greedy]
    original = sampler.state
    try:
        sampler.set_weights(other)
        assert [c[0].token_ids for c in sampler.generate(PROMPTS, params)] == expected
    finally:
        sampler.state = original


def test_a_shared_prefix_prefilled_once_gives_the_same_completions(model, sampler, greedy):
    # PROMPTS[2] (20 tokens) as the shared prefix of suffixes of different lengths: the same
    # greedy tokens and log-probs as the whole prompts prefilled row by row.
    prefix = PROMPTS[2]
    suffixes = [p for i, p in enumerate(PROMPTS) if i != 2]
    whole = sampler.generate([prefix + s for s in suffixes], SamplingParams(max_new_tokens=STEPS))
    shared = sampler.generate(suffixes, SamplingParams(max_new_tokens=STEPS), prefix=prefix)
    for a, b in zip(whole, shared):
        assert a[0].token_ids == b[0].token_ids
        np.testing.assert_allclose(a[0].logprobs, b[0].logprobs, atol=1e-5)
    # Sampling too: the same keys draw the same tokens.
    params = SamplingParams(max_new_tokens=STEPS, temperature=0.9, n=2, seed=5)
    drawn = sampler.generate([prefix + s for s in suffixes], params)
    drawn_shared = sampler.generate(suffixes, params, prefix=prefix)
    assert [[c.token_ids for c in s] for s in drawn] == [[c.token_ids for c in s] for s in drawn_shared]
