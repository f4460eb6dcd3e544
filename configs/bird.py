"""BIRD (Li et al., 2023): train as seed data, dev as the evaluation set, with BIRD's evidence
(the hint written with each question) in every prompt.

    python -m spft_jax.main --config=configs/bird.py --workdir=DIR \
        --config.data.source.manual_dir=/data/bird --config.model.name=/models/Qwen2.5-Coder-7B-Instruct

`manual_dir` holds BIRD's train/ and dev/ folders as distributed (train/train.json,
train/train_tables.json, train/train_databases/<db>/<db>.sqlite, dev/dev.json, dev/dev_tables.json,
dev/dev_databases/...). The loader is Spider's with BIRD's file names, its `SQL` field as the
query and `evidence` in the prompt. BIRD's databases are large: one sample value per column and a
longer statement time limit. Training settings as configs/spider.py (`apply_paper_scale`).
"""

from spft_jax.pipeline.defaults import apply_paper_scale, base_config


def get_config():
    config = apply_paper_scale(base_config())
    config.name = "BIRD"
    config.data.source.dataset = "bird"
    config.data.source.manual_dir = ""  # set on the command line: the folder with train/ and dev/
    config.data.validation_examples = 500
    config.prompt.schema_style = "create_table"
    config.prompt.values_per_column = 1
    config.model.name = "smollm2-135m-instruct"
    config.execution.timeout_s = 30.0
    config.execution.max_rows = 1_000_000
    for section in (config.sft, config.stage1.train, config.stage1.sql2text, config.selfplay.train):
        section.max_length = 4096  # BIRD's schemas are long
    return config
