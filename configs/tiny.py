"""A tiny random model over the real SmolLM2 tokenizer, on a few demo questions: the whole pipeline
in about a minute on a CPU. What the test suite runs; useful to try a config change quickly.

    python -m spft_jax.main --config=configs/tiny.py --workdir=/tmp/tiny

Its EX is about zero (random weights); it exercises every stage, file and resume path.
"""

from spft_jax.pipeline.defaults import base_config


def get_config():
    config = base_config()
    config.name = "tiny random model on the demo benchmark"
    config.data.source.dataset = "demo"
    config.data.validation_examples = 4
    config.data.max_train_examples = 8
    config.data.max_eval_examples = 6
    config.model.random_init = True
    config.model.overrides = dict(num_layers=2, hidden_size=32, intermediate_size=64, num_heads=4,
                                  num_kv_heads=2, head_dim=8)
    config.lora.rank = 4
    config.sampling.max_new_tokens = 8
    config.sampling.max_batch_rows = 16
    for section in (config.sft, config.stage1.train, config.stage1.sql2text, config.selfplay.train):
        section.batch_size = 4
        section.max_length = 512
        section.bucket_multiple = 256
        section.checkpoint_every = 1
        section.learning_rate = 1e-3
    config.stage1.rounds = 1
    config.stage1.queries_per_round = 6
    config.stage1.question_max_new_tokens = 8
    config.selfplay.iterations = 1
    config.selfplay.max_questions = 4
    # GRPO when a run lists it (--config.stages="('sft','grpo')"): two steps of 2 x 2 samples.
    config.grpo.steps = 2
    config.grpo.questions_per_step = 2
    config.grpo.group_size = 2
    config.grpo.max_new_tokens = 4
    config.grpo.train.checkpoint_every = 1
    config.grpo.train.bucket_multiple = 256
    config.grpo.train.max_length = 512
    return config
