"""Does an exported Hugging Face directory write the SQL our sampler wrote?

`--mode=export` merges the LoRA adapter and writes config.json, safetensors and tokenizer files.
This check loads that directory with `transformers` (PyTorch, float32, CPU), generates greedily
for the evaluation questions with the same prompts and token budget, and compares the extracted
SQL with the model's own prediction file in the workdir (eval/<model>.sql, written by our sampler
when the model was evaluated). torch is a test dependency (requirements-test.txt), not a runtime
one, so it is imported only here.

Greedy decoding in two frameworks can part ways where two tokens tie to within float32 rounding
(the merged weights are not bit-equal to base + adapter applied separately), so the check reports
every mismatch rather than stopping at the first.
"""

from __future__ import annotations

import dataclasses
import pathlib

from spft_jax.data.prompts import example_evidence
from spft_jax.data.sql_text import extract_sql
from spft_jax.errors import DataError
from spft_jax.models.tokenizer import Tokenizer
from spft_jax.pipeline.workdir import read_json


@dataclasses.dataclass(frozen=True)
class ExportCheck:
    model: str
    compared: int
    mismatches: list[dict]  # question index, ours, transformers'

    @property
    def identical(self) -> int:
        return self.compared - len(self.mismatches)


def exported_model_name(export_dir: pathlib.Path) -> str:
    marker = export_dir / "spft_export.json"
    if not marker.is_file():
        raise DataError(f"{export_dir}: not a --mode=export folder (no spft_export.json)")
    return read_json(marker)["model"]


def predictions_of(workdir, name: str) -> pathlib.Path:
    """Our sampler's greedy SQL of model-base member `name` on the evaluation set: eval/<name>.sql
    (--mode=evaluate and the sft / self-play stages), or eval/stage1.sql when `name` is the
    model stage 1 chose."""
    candidates = [pathlib.Path(workdir.eval_path(name, ".sql"))]
    stage1 = workdir.finished("stage1")
    if stage1 and stage1.get("model") == name:
        candidates.append(pathlib.Path(workdir.eval_path("stage1", ".sql")))
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(f"{candidates[0]}: no predictions of {name!r} to compare with "
                    f"(run --mode=evaluate --model={name} first)")


def check_export(context, export_dir: str | pathlib.Path, limit: int = 0) -> ExportCheck:
    """Greedy SQL of the exported model in transformers vs eval/<model>.sql, on the first `limit`
    evaluation questions (all when 0), with the run's prompts (context.prompts)."""
    try:
        import torch
        import transformers
    except ImportError as e:
        raise DataError(f"checking an export needs torch and transformers "
                        f"(pip install -r requirements-test.txt): {e}") from None
    export_dir = pathlib.Path(export_dir)
    name = exported_model_name(export_dir)
    config, data = context.config, context.data
    ours = predictions_of(context.workdir, name).read_text().splitlines()
    examples = data.eval.examples[:limit] if limit else data.eval.examples
    # The exported tokenizer files must give the prompts the run used, id for id.
    tokenizer = Tokenizer.from_pretrained(export_dir)
    exported_prompts = context.prompts.with_tokenizer(tokenizer)
    model = transformers.AutoModelForCausalLM.from_pretrained(export_dir, dtype=torch.float32).eval()
    mismatches = []
    for index, (example, expected) in enumerate(zip(examples, ours)):
        evidence = example_evidence(example, data.evidence_field)
        ids = context.prompts.text_to_sql(data.eval, example.db_id, example.question, evidence)
        if exported_prompts.text_to_sql(data.eval, example.db_id, example.question, evidence) != ids:
            mismatches.append({"index": index, "ours": expected, "transformers": None,
                               "reason": "the exported tokenizer encodes the prompt differently"})
            continue
        with torch.no_grad():
            output = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                    do_sample=False, max_new_tokens=config.sampling.max_new_tokens,
                                    pad_token_id=tokenizer.pad_id)
        generated = output[0, len(ids):].tolist()
        if generated and generated[-1] in tokenizer.eos_ids:
            generated = generated[:-1]
        theirs = extract_sql(tokenizer.decode(generated))
        if theirs != expected:
            mismatches.append({"index": index, "ours": expected, "transformers": theirs})
    return ExportCheck(name, min(len(examples), len(ours)), mismatches)
