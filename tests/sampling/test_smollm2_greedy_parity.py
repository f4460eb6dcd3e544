"""Greedy generation of the real SmolLM2-135M-Instruct equals `transformers` `generate`.

The packaged GGUF is loaded with `load_model`, exported with `export_hf` and read back by
transformers, so both sides hold the same (dequantized) weights in float32. Five Text-to-SQL
prompts (schema + question in the chat template) are generated together by our batched,
left-padded sampler and one by one by transformers; the token ids must be identical.
"""

import contextlib

import pytest
import torch
import transformers

from spft_jax.demo import demo_paths
from spft_jax.sampling import Sampler, SamplingParams
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.schema_text import schema_prompt

NEW_TOKENS = 32
PROMPTS = 5


def text_to_sql_messages(count: int) -> list[list[dict]]:
    """Chat messages for `count` questions of the demo benchmark, from different databases."""
    paths = demo_paths()
    dataset = load_dataset(paths.train, paths.tables, paths.db_dir)
    chosen, seen = [], set()
    for example in dataset.examples:
        if example.db_id not in seen:
            seen.add(example.db_id)
            chosen.append(example)
        if len(chosen) == count:
            break
    messages = []
    for example in chosen:
        # Without sample values the prompts stay around 400 tokens, which keeps the test fast.
        schema = schema_prompt(dataset.schemas[example.db_id], dataset.db_path(example.db_id),
                               values_per_column=0)
        messages.append([
            {"role": "system", "content": "You translate questions into SQLite queries."},
            {"role": "user", "content": f"{schema}\n\nQuestion: {example.question}\n"
                                        "Answer with one SQL query."},
        ])
    return messages


@contextlib.contextmanager
def one_torch_thread():
    """transformers' side on one thread: on a busy 2-core machine torch's two OpenMP threads wait
    on each other and generate about ten times slower (the tokens are the same either way)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def smollm2_pair(packaged_smollm2, tmp_path_factory):
    from spft_jax.models.export import export_hf
    from spft_jax.models.loading import load_model

    model, config, tokenizer = load_model("smollm2-135m-instruct")
    directory = export_hf(model, config, tokenizer, tmp_path_factory.mktemp("smollm2_hf"))
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    hf_model.eval()
    return model, tokenizer, hf_model


def test_greedy_tokens_equal_transformers_generate(smollm2_pair):
    model, tokenizer, hf_model = smollm2_pair
    prompts = [tokenizer.encode(tokenizer.apply_chat_template(m))
               for m in text_to_sql_messages(PROMPTS)]
    assert len(prompts) == PROMPTS and len({len(p) for p in prompts}) == PROMPTS  # real padding
    sampler = Sampler(model, tokenizer)
    ours = sampler.generate(prompts, SamplingParams(max_new_tokens=NEW_TOKENS))
    for prompt, (completion,) in zip(prompts, ours):
        with torch.no_grad(), one_torch_thread():
            output = hf_model.generate(
                torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                do_sample=False, max_new_tokens=NEW_TOKENS,
                eos_token_id=list(sampler.eos_token_ids), pad_token_id=sampler.pad_token_id)
        expected = output[0, len(prompt):].tolist()
        assert completion.token_ids == expected
        if expected[-1] in sampler.eos_token_ids:
            assert completion.finish_reason == "eos"
            assert completion.text == tokenizer.decode(expected[:-1])
        else:
            assert len(expected) == NEW_TOKENS and completion.truncated
            assert completion.text == tokenizer.decode(expected)
