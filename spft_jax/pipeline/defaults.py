"""Every configuration field of the pipeline, with its default and what it means.

`configs/*.py` start from `base_config()` and change what their experiment needs; any field can
be overridden on the command line (`--config.selfplay.loss=spin`). The config is locked, so a
misspelt field is an error rather than a silently ignored setting, and `validate.py` checks every
value before any heavy work starts.
"""

from __future__ import annotations

from ml_collections import ConfigDict

STAGES = ("base_eval", "sft", "stage1", "selfplay")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def training_section(**changes) -> ConfigDict:
    """One fine-tuning run's settings (SFT, each stage-1 round, SQL-to-Text, each self-play
    iteration have a section each, so they can differ)."""
    section = ConfigDict(dict(
        batch_size=8,  # sequences (or pairs) per micro-batch, over all hosts
        micro_batches=1,  # micro-batches per optimizer step (gradient accumulation)
        max_length=1024,  # longest padded sequence; longer prompts are cut from the left
        bucket_multiple=64,  # padded lengths are multiples of this (few shapes, few compiles)
        epochs=1,  # passes over the training examples
        max_steps=0,  # when > 0, the run's length in optimizer steps instead of epochs
        optimizer="adamw",  # "adamw" or "rmsprop" (SPIN's choice)
        learning_rate=1e-4,  # peak learning rate
        schedule="cosine",  # after warmup: "constant", "linear" or "cosine"
        warmup_ratio=0.1,  # share of the steps spent warming up linearly from 0
        end_learning_rate_ratio=0.0,  # final rate / peak rate (linear, cosine)
        weight_decay=0.0,  # decoupled, on matrices only
        clip_grad_norm=1.0,  # global-norm clipping (0: none)
        checkpoint_every=50,  # Orbax checkpoint every N steps (and at the end); 0: none
        keep_checkpoints=2,  # checkpoints kept on disk per run
        # Each database's shared prompt prefix (its schema) computed once per micro-batch, its
        # questions as continuations after it: the same loss and gradients (true), or one
        # padded sequence per example (false); the same batches either way. Off by default
        # for now: the shared layout's shapes vary from step to step (groups, prefix,
        # continuation and completion lengths), so it compiles far more often than the padded
        # one (see BENCHMARKS.md).
        share_prefix=False,
        group_size=8,  # examples of one database kept together in the training order
    ))
    section.update(changes)
    return section


def base_config() -> ConfigDict:
    c = ConfigDict()
    c.name = "experiment"  # the run's name in reports
    c.seed = 0  # one seed for data order, sampling and synthesis (each use derives its own)
    c.stages = STAGES  # what --mode=pipeline runs, in this order

    c.data = ConfigDict()
    # Where the questions come from (spft_jax.data.source.DataSourceConfig): dataset one of
    # spider, spider_syn, spider_realistic, spider_dk, bird, demo; format "raw" (question files
    # in manual_dir) or "tfds" (a data_dir written by python -m spft_jax.data.prepare).
    c.data.source = ConfigDict(dict(dataset="demo", format="raw", manual_dir="", data_dir=""))
    c.data.train_split = "train"  # seed data of SFT and stage 1, questions of self-play
    c.data.eval_split = "validation"  # the evaluation set (Spider dev); never trained on
    c.data.validation_examples = 32  # held out of the training split to score the model base
    c.data.max_train_examples = 0  # use only the first N training examples (0: all)
    c.data.max_eval_examples = 0  # evaluate on the first N evaluation questions (0: all)

    c.prompt = ConfigDict(dict(
        schema_style="compact",  # "compact" (a line per table) or "create_table"
        values_per_column=0,  # sample values per column in the schema text
        chat_template=True,  # wrap prompts in the model's chat template
        # Database values the question mentions (CodeS), as `table.column -- values matching
        # the question: ...` lines after the schema, so the schema stays the prefix every
        # question on a database shares (spft_jax/data/value_index.py).
        value_matching=ConfigDict(dict(
            enabled=False,  # off until the demo's validation EX says otherwise (BENCHMARKS.md)
            top_k=3,  # matched values shown per column
            max_values_per_column=5000,  # distinct text values indexed per column (scan order)
            cache_dir="",  # value index cache ("": <workdir>/cache/value_index)
        )),
        # Only the tables and columns the question is about, by a lexical score (names, Spider's
        # natural-language names, and matched values when value_matching is on), with the
        # foreign-key paths between them. The schema text is then per question: only the system
        # message stays a shared prefix (spft_jax/data/schema_filter.py).
        schema_filter=ConfigDict(dict(
            enabled=False,
            max_tables=6,  # tables kept (CodeS keeps 6 tables, 10 columns per table)
            max_columns=10,  # columns kept per table; its keys and join columns are always kept
        )),
    ))

    c.model = ConfigDict()
    c.model.name = "smollm2-135m-instruct"  # HF checkpoint dir, .gguf file, or the packaged preset
    c.model.dtype = "float32"  # compute dtype ("bfloat16" on accelerators)
    c.model.param_dtype = "float32"  # storage dtype of the weights (master weights)
    c.model.remat = "none"  # activation checkpointing: "none", "full", "dots_saveable"
    c.model.random_init = False  # random weights of the model's architecture (tests)
    # Architecture fields changed before a random init, e.g. {"num_layers": 2} (tests).
    c.model.overrides = ConfigDict()

    c.lora = ConfigDict(dict(
        rank=8,  # adapter rank; 0 trains every weight (full fine-tuning)
        alpha=16.0,  # adapter scale is alpha / rank
        targets=LORA_TARGETS,  # projections that get adapters
    ))

    c.mesh = ConfigDict(dict(data=-1, fsdp=1, tensor=1))  # device mesh; one size may be -1

    c.distributed = ConfigDict(dict(
        enabled=False,  # call jax.distributed.initialize (multi-host)
        coordinator_address="",  # "host:port" of process 0 ("": auto-detect, TPU pods / SLURM)
        num_processes=0,  # 0: auto-detect
        process_id=-1,  # -1: auto-detect
        cpu_collectives="gloo",  # cross-process collectives of CPU devices
    ))

    c.execution = ConfigDict(dict(
        workers=0,  # SQL worker processes (0: in-process, still sandboxed)
        timeout_s=5.0,  # per statement
        max_rows=100_000,  # rows fetched per statement before it counts as too many
    ))

    c.sampling = ConfigDict(dict(
        max_new_tokens=128,  # tokens per generated SQL
        max_batch_rows=64,  # rows (prompts x samples) decoded together
        prefill_tokens=8192,  # prompt tokens per prefill call
        cache_dtype="",  # KV cache dtype ("": the model's compute dtype; "bfloat16" halves it)
        share_prefix=True,  # prefill a database's common prompt prefix (its schema) once
        refill=True,  # a finished row takes the next queued prompt (False: batch after batch)
    ))

    c.sft = training_section()  # supervised fine-tuning on the seed data

    c.eval = ConfigDict(dict(
        self_consistency=0,  # also score majority vote over N samples (0: greedy only)
        temperature=0.7,  # sampling temperature of the self-consistency samples
        top_p=0.95,
    ))

    c.stage1 = ConfigDict()
    c.stage1.rounds = 1  # verification-based fine-tuning rounds (the paper's cost study: 5)
    c.stage1.queries_per_round = 3000  # synthesized SQL per round (about 3,000 worked best)
    c.stage1.require_rows = True  # keep only synthesized SQL that returns rows
    c.stage1.failed_template_weight = 2.0  # sampling weight of templates that failed last round
    c.stage1.max_attempts_per_query = 20  # fill attempts per kept query before giving up
    c.stage1.init_from = "base"  # each round's model starts from "base" or the "previous" one
    c.stage1.question_max_new_tokens = 48  # tokens per generated question
    c.stage1.train = training_section()  # each round's Text-to-SQL fine-tuning (seed + verified)
    c.stage1.sql2text = training_section()  # the SQL-to-Text model's fine-tuning

    c.selfplay = ConfigDict()
    # "error_driven" (SPFT-SQL), "spin", "exspin" (pairs with a correct opponent dropped),
    # "error_driven_positive" (a correct opponent answer is a second positive), "dpo".
    c.selfplay.loss = "error_driven"
    c.selfplay.lam = 0.1  # beta of the pairwise losses
    c.selfplay.iterations = 2  # main-vs-opponent iterations
    c.selfplay.patience = 1  # stop after this many iterations without a better validation EX
    c.selfplay.samples_per_question = 1  # opponent samples per training question
    c.selfplay.temperature = 0.8  # opponent sampling
    c.selfplay.top_p = 0.95
    c.selfplay.max_questions = 0  # self-play on the first N training questions (0: all)
    c.selfplay.train = training_section(optimizer="rmsprop", learning_rate=5e-6, epochs=2)
    return c


def apply_paper_scale(config: ConfigDict) -> ConfigDict:
    """The settings configs/spider.py and configs/bird.py share: the paper's where it states them
    (LoRA fine-tuning, about 3,000 synthesized pairs per round, five stage-1 rounds in its cost
    study, the error-driven loss) and SPIN's where SPFT-SQL builds on it (RMSProp, lam = 0.1, 10%
    warmup, 2 epochs per self-play iteration, batch 64). Learning rates, LoRA rank and SFT epochs
    are not given in the paper: the values here are common choices for LoRA on 1.5B-7B models."""
    config.model.dtype = "bfloat16"
    config.model.param_dtype = "float32"  # fp32 master weights, bf16 compute
    config.model.remat = "dots_saveable"
    config.lora.rank = 32
    config.lora.alpha = 64.0
    config.sampling.max_new_tokens = 256
    config.sampling.max_batch_rows = 256
    config.execution.workers = 8
    for section in (config.sft, config.stage1.train, config.stage1.sql2text, config.selfplay.train):
        section.batch_size = 64
        section.max_length = 2048
        section.bucket_multiple = 128
        section.checkpoint_every = 200
    config.sft.epochs = 2
    config.sft.learning_rate = 2e-4
    config.stage1.rounds = 5
    config.stage1.queries_per_round = 3000
    config.stage1.train.epochs = 2
    config.stage1.train.learning_rate = 2e-4
    config.stage1.sql2text.epochs = 2
    config.stage1.sql2text.learning_rate = 2e-4
    config.selfplay.loss = "error_driven"
    config.selfplay.lam = 0.1
    config.selfplay.iterations = 3
    config.selfplay.samples_per_question = 1
    config.selfplay.temperature = 0.8
    config.selfplay.train.optimizer = "rmsprop"
    config.selfplay.train.learning_rate = 5e-6  # SPIN: 5e-7 for full fine-tuning; LoRA takes more
    config.selfplay.train.warmup_ratio = 0.1
    config.selfplay.train.epochs = 2
    return config
