"""Spider (Yu et al., 2018): train_spider + train_others as seed data, dev as the evaluation set.

    python -m spft_jax.main --config=configs/spider.py --workdir=DIR \
        --config.data.source.manual_dir=/data/spider --config.model.name=/models/Qwen2.5-Coder-7B-Instruct

`manual_dir` is the unzipped Spider folder (train_spider.json, train_others.json, dev.json,
tables.json, database/<db_id>/<db_id>.sqlite; see the README). `model.name` is a Hugging Face
checkpoint directory (the paper's models: Qwen2.5-Coder-Instruct 1.5B-32B, Llama-3-8B-Instruct,
DeepSeek-Coder-Instruct) or the packaged smollm2-135m-instruct. Training settings: see
`apply_paper_scale` in spft_jax/pipeline/defaults.py (the paper's where it gives them, SPIN's
where SPFT-SQL builds on SPIN, common LoRA choices for the rest).
"""

from spft_jax.pipeline.defaults import apply_paper_scale, base_config


def get_config():
    config = apply_paper_scale(base_config())
    config.name = "Spider"
    config.data.source.dataset = "spider"
    config.data.source.manual_dir = ""  # set on the command line: the unzipped Spider folder
    config.data.validation_examples = 500  # held out of train: ranks the model base
    config.prompt.schema_style = "create_table"
    config.prompt.values_per_column = 3
    config.model.name = "smollm2-135m-instruct"  # or a checkpoint directory of the paper's models
    config.execution.timeout_s = 10.0
    return config
