"""The run's summary: report.json, report.md (the EX table) and plots/*.png, from the stage markers
and the training logs in the workdir (so it can be rebuilt at any time, e.g. after a resume).

Rows of the EX table: base, sft, stage1, then one per self-play iteration; each with EX on the
evaluation set overall and by Spider hardness (greedy, and self-consistency when it was run).
"""

from __future__ import annotations

import logging
import platform

from spft_jax.pipeline.results import finished_result
from spft_jax.pipeline.run_config import STAGES
from spft_jax.pipeline.workdir import Workdir, is_writer, read_jsonl, write_json, write_text_atomic

log = logging.getLogger(__name__)

LEVELS = ("easy", "medium", "hard", "extra")
GRPO_RUN = "grpo"  # runs/grpo/ (pipeline/grpo.py)


def ex_rows(workdir: Workdir) -> list[dict]:
    """One row per scored model: {"row", "model", "greedy", "self_consistency", "seconds"}."""
    rows = []
    for name in STAGES:
        result = finished_result(workdir, name)
        if result is not None:
            rows += result.table_rows()
    return rows


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def markdown_table(rows: list[dict], title: str) -> str:
    with_sc = any(r.get("self_consistency") for r in rows)
    header = ["stage", "model", "EX", *[f"EX {level}" for level in LEVELS]]
    if with_sc:
        header.append("EX self-consistency")
    header.append("stage wall time")
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    for r in rows:
        g = r["greedy"]
        cells = [r["row"], r["model"], _percent(g["execution_accuracy"]),
                 *[_percent(g["by_hardness"].get(level)) for level in LEVELS]]
        if with_sc:
            sc = r.get("self_consistency")
            cells.append(f"{_percent(sc['execution_accuracy'])} (n={sc['samples']})" if sc else "–")
        seconds = r.get("seconds")
        cells.append("–" if seconds is None else f"{seconds / 60:.1f} min")
        lines.append("| " + " | ".join(cells) + " |")
    if rows:
        g = rows[0]["greedy"]
        lines += ["", f"{g['evaluated']} of {g['questions']} evaluation questions scored "
                      f"({g['skipped_missing_database']} skipped for a missing database, "
                      f"{g['skipped_gold_failed']} whose gold SQL failed). EX in %."]
    return "\n".join(lines)


def _stage_details(workdir: Workdir) -> list[str]:
    lines = []
    stage1 = finished_result(workdir, "stage1")
    if stage1:
        lines += ["", "## Stage 1 rounds", "",
                  "| round | candidates | verified | verified rate | executable rate | validation EX |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for r in stage1.rounds:
            lines.append(f"| {r['round']} | {r['candidates']} | {r['verified']} | "
                         f"{_percent(r['verified_rate'])} | {_percent(r['executable_rate'])} | "
                         f"{_percent(r['validation_ex'])} |")
    selfplay = finished_result(workdir, "selfplay")
    if selfplay:
        lines += ["", "## Self-play iterations", "",
                  "| iteration | main | opponent | pairs | opponent correct | loss | margin | validation EX |",
                  "|---:|---|---|---:|---:|---:|---:|---:|"]
        for s in selfplay.iterations:
            metrics = s.get("final_metrics") or {}
            loss, margin = metrics.get("loss"), metrics.get("rewards/margins")
            lines.append(f"| {s['iteration']} | {s['main']} | {s['opponent']} | {s['pairs']} | "
                         f"{_percent(s['opponent_correct_share'])} | "
                         f"{'–' if loss is None else f'{loss:.4f}'} | "
                         f"{'–' if margin is None else f'{margin:.4f}'} | "
                         f"{_percent(s.get('validation_ex'))} |")
    grpo = finished_result(workdir, "grpo")
    if grpo:
        split = grpo.time_split or {}
        total = sum(split.values()) or 1.0
        lines += ["", "## GRPO", "",
                  "| from | steps | reward, first step | reward, last step | zero-variance groups "
                  "| rollout | reward | logprobs | update | validation EX |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {grpo.init_from} | {grpo.steps} | {_number(grpo.reward_first)} | "
                  f"{_number(grpo.reward_last)} | {_percent(grpo.zero_variance_share)} | "
                  + " | ".join(f"{100 * split.get(t, 0.0) / total:.0f}%"
                               for t in ("rollout", "reward", "logprobs", "update"))
                  + f" | {_percent(grpo.validation_ex)} |"]
    return lines


def _number(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _plots(workdir: Workdir, rows: list[dict]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    from matplotlib import pyplot as plt

    written = []
    if rows:
        figure, axis = plt.subplots(figsize=(7, 4))
        values = [100 * (r["greedy"]["execution_accuracy"] or 0.0) for r in rows]
        axis.plot(range(len(rows)), values, marker="o", label="greedy")
        if any(r.get("self_consistency") for r in rows):
            sc = [100 * (r["self_consistency"]["execution_accuracy"] or 0.0)
                  if r.get("self_consistency") else float("nan") for r in rows]
            axis.plot(range(len(rows)), sc, marker="s", label="self-consistency")
        axis.set_xticks(range(len(rows)), [r["row"] for r in rows], rotation=20)
        axis.set_ylabel("EX (%)")
        axis.set_title("Execution accuracy by stage")
        axis.legend()
        axis.grid(alpha=0.3)
        figure.tight_layout()
        path = workdir.path("plots", "ex_by_stage.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(str(path))
    runs = sorted(workdir.path("runs").glob("*/metrics.jsonl")) if workdir.path("runs").is_dir() else []
    if runs:
        # SFT-type losses (nats per token) and pairwise losses (log-sigmoid of a margin) differ in
        # scale and meaning: one panel each.
        panels = {"fine-tuning (SFT, SQL-to-Text, stage 1)": [], "self-play (pairwise)": []}
        for path in runs:
            if path.parent.name == GRPO_RUN:  # a policy-gradient loss: its reward curve below
                continue
            key = "self-play (pairwise)" if path.parent.name.startswith("selfplay") else \
                "fine-tuning (SFT, SQL-to-Text, stage 1)"
            panels[key].append(path)
        shown = [(title, paths) for title, paths in panels.items() if paths]
        figure, axes = plt.subplots(1, len(shown), figsize=(6 * len(shown), 4), squeeze=False)
        for axis, (title, paths) in zip(axes[0], shown):
            for path in paths:
                records = [r for r in read_jsonl(path, skip_bad_lines=True)
                           if isinstance(r.get("loss"), (int, float))]
                if records:
                    axis.plot([r["step"] for r in records], [r["loss"] for r in records],
                              label=path.parent.name)
            axis.set_xlabel("step")
            axis.set_ylabel("loss")
            axis.set_title(title)
            axis.legend(fontsize="small")
            axis.grid(alpha=0.3)
        figure.tight_layout()
        path = workdir.path("plots", "loss_curves.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(str(path))
    grpo_log = workdir.path("runs", GRPO_RUN, "metrics.jsonl")
    records = read_jsonl(grpo_log, skip_bad_lines=True) if grpo_log.exists() else []
    records = [r for r in records if isinstance(r.get("reward/mean"), (int, float))]
    if records:
        figure, axis = plt.subplots(figsize=(7, 4))
        steps = [r["step"] for r in records]
        axis.plot(steps, [r["reward/mean"] for r in records], marker="o", label="mean reward")
        axis.plot(steps, [r["groups/zero_variance"] for r in records], linestyle="--",
                  label="zero-variance groups (share)")
        axis.set_xlabel("GRPO step")
        axis.set_ylim(-0.02, 1.02)
        axis.set_title("GRPO: execution reward per step")
        axis.legend()
        axis.grid(alpha=0.3)
        figure.tight_layout()
        path = workdir.path("plots", "grpo_reward.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(str(path))
    return written


def write_report(workdir: Workdir, name: str, extra: dict | None = None) -> dict:
    """Writes report.json, report.md and the plots; returns the JSON report."""
    rows = ex_rows(workdir)
    report = {"name": name, "rows": rows,
              "stages": {s: r.to_json() for s in STAGES
                         if (r := finished_result(workdir, s)) is not None},
              "machine": {"platform": platform.platform(), "python": platform.python_version()},
              **(extra or {})}
    report["plots"] = _plots(workdir, rows) if is_writer() else []
    write_json(workdir.path("report.json"), report)
    markdown = [f"# {name}", "", markdown_table(rows, "Execution accuracy on the evaluation set"),
                *_stage_details(workdir), ""]
    write_text_atomic(workdir.path("report.md"), "\n".join(markdown))
    return report
