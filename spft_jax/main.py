"""The SPFT-SQL pipeline from the command line.

    python -m spft_jax.main --config=configs/demo.py --workdir=/tmp/demo [--mode=pipeline]
        [--config.selfplay.loss=spin ...] [--model=NAME] [--output=PATH]

Modes: pipeline (default: base EX, SFT, stage 1, stage 2, report), sft, stage1, selfplay, grpo,
evaluate, predict, export, check_export (see spft_jax/pipeline/runner.py). Any config field can
be overridden with --config.<field>=<value>. The config is validated before anything heavy; a bad value, a
missing file or a mesh that does not fit the devices ends the run with one line on stderr and
exit status 2. Rerunning the same command continues where the last run stopped.
"""

from __future__ import annotations

import json
import logging
import pathlib
import re
import sys

from absl import app, flags
from ml_collections import ConfigDict, config_flags

from spft_jax.cli import one_line
from spft_jax.errors import ConfigError, SpftError
from spft_jax.pipeline.run_config import MODES

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", default=None, help_string="experiment config file "
                                "(configs/*.py)", lock_config=True)
flags.DEFINE_string("workdir", None, "folder for every result, checkpoint and report")
flags.DEFINE_string("mode", "pipeline", " | ".join(MODES))
flags.DEFINE_string("model", None, "evaluate/predict/export: a model-base member, or 'base' "
                    "(default: the best member by validation EX)")
flags.DEFINE_string("output", None, "predict: the prediction file; export, check_export: the "
                    "exported folder")
flags.DEFINE_integer("limit", 0, "check_export: compare on the first N evaluation questions (0: all)")
flags.DEFINE_bool("progress", True, "progress bars")

log = logging.getLogger("spft_jax")


def _fail(message: str) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr)
    sys.exit(2)


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, with bad flags (unknown config fields, wrong types, a config file that
    does not load) reported in one line with exit status 2 instead of a usage dump."""
    try:
        return FLAGS(argv)
    except flags.Error as e:
        _fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except (AttributeError, KeyError) as e:  # an override of a field the config does not have
        _fail(_unknown_override(e, argv))
    except (ConfigError, FileNotFoundError, SyntaxError, TypeError, ValueError) as e:
        _fail(f"--config: {e}")
    return argv


def _unknown_override(error: Exception, argv: list[str]) -> str:
    """One line for an override of a field the config lacks. ml_collections' message is the
    quoted name and a suggestion (`Did you mean "x" instead of "y"?`), escaped once more for
    each level of nesting, so the name is read out of it rather than printed."""
    text = str(error)
    suggestion = re.search(r'Did you mean "([^"]+)" instead of "([^"]+)"', text)
    if suggestion:
        name = suggestion.group(2)
    else:
        found = re.search(r"[A-Za-z_][A-Za-z0-9_]*", text)
        name = found.group(0) if found else text
    overrides = [a.split("=", 1)[0] for a in argv[1:] if a.startswith("--config.")]
    flag = next((o for o in overrides if name in o[len("--config."):].split(".")),
                overrides[0] if overrides else "--config")
    hint = f" (did you mean {suggestion.group(1)!r}?)" if suggestion else ""
    return f"{flag}: unknown field {name!r}{hint}"


def _loaded_config():
    """The config, or a one-line exit when its file did not load (config_flags defers the error
    to the first use of the config)."""
    config = FLAGS.config
    if config is None:
        _fail("--config: needed, e.g. --config=configs/demo.py")
    if not isinstance(config, ConfigDict):
        try:
            config.name  # noqa: B018  raises the loading error
        except Exception as e:  # noqa: BLE001  whatever the config file raised
            _fail(f"--config: {type(e).__name__}: {e}")
        _fail("--config: the file's get_config() must return an ml_collections ConfigDict")
    return config


def _setup_logging() -> None:
    """Every module logs to its own logger (`spft_jax.<module>`, so tests and users can filter
    by module); under absl's app.run they all go through absl's handler, in absl's format. Our
    loggers are at INFO unless absl's --verbosity is given (-1: warnings only, 1: debug); the
    libraries below ours stay at warnings."""
    from absl import logging as absl_logging

    logging.getLogger().setLevel(logging.WARNING)
    level = logging.INFO
    if FLAGS["verbosity"].present:
        level = absl_logging.converter.absl_to_standard(absl_logging.get_verbosity())
    log.setLevel(level)
    for noisy in ("jax", "absl", "orbax", "tensorflow_datasets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _check_config_history(workdir, config) -> None:
    """Writes config.json; warns (naming sections) when a rerun uses a different config. How the
    processes of a run find each other (`distributed`) is not part of what the run computes."""
    from spft_jax.pipeline.workdir import exists, is_writer, read_json, write_json

    current = json.loads(config.to_json_best_effort())
    path = workdir.path("config.json")
    if exists(path):
        previous = read_json(path)
        changed = sorted(k for k in set(previous) | set(current)
                         if k != "distributed" and previous.get(k) != current.get(k))
        if changed:
            if is_writer():
                log.warning("the config differs from the one this workdir was started with (sections: "
                        "%s); finished stages are kept as they are", ", ".join(changed))
            write_json(workdir.path(f"config.{len(list(workdir.root.glob('config.*.json'))) + 1}.json"),
                       current)
        return
    write_json(path, current)


def run(config, workdir_path: str, mode: str, model: str | None, output: str | None,
        progress: bool, limit: int = 0) -> None:
    from spft_jax.pipeline.validate import check_mode, check_output, validate

    check_mode(mode)
    check_output(mode, output)
    if not workdir_path:
        raise ConfigError("--workdir: needed (the folder every result is written to)")
    typed = validate(config)  # every field checked before anything heavy
    if config.distributed.enabled:
        from spft_jax.parallel import distributed

        d = config.distributed
        distributed.initialize_from_config(d.coordinator_address or None, d.num_processes or None,
                                           None if d.process_id < 0 else d.process_id,
                                           d.cpu_collectives)
    import jax

    validate(typed, num_devices=jax.device_count())
    from spft_jax.parallel.mesh import make_mesh
    from spft_jax.pipeline.context import Context
    from spft_jax.pipeline.runner import run_mode
    from spft_jax.pipeline.workdir import Workdir
    from spft_jax.pipeline.workdir_lock import WorkdirLock

    created = _missing_folders(pathlib.Path(workdir_path).expanduser().absolute())
    workdir = Workdir(workdir_path)
    try:
        with WorkdirLock(workdir.root):  # one run per workdir; a second one ends here, writing nothing
            mesh = make_mesh(config.mesh.data, config.mesh.fsdp, config.mesh.tensor)
            log.info("devices: %d x %s, mesh %s", jax.device_count(), jax.devices()[0].platform,
                     dict(mesh.shape))
            # Data and weights load before anything is written: a missing database or a corrupt
            # weight file leaves no config.json behind.
            context = Context.create(typed, workdir, mesh, progress=progress)
            try:
                _check_config_history(workdir, config)
                run_mode(context, mode, model, output, limit)
            finally:
                context.close()
    except SpftError:
        _remove_if_empty(created)
        raise


def _missing_folders(path: pathlib.Path) -> list[pathlib.Path]:
    """The folders creating `path` would create, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _remove_if_empty(folders: list[pathlib.Path]) -> None:
    """The workdir folders this run created, removed again while nothing was written to them:
    a command that failed before doing anything leaves nothing behind."""
    from spft_jax.parallel.coordination import is_writer

    if is_writer():
        for folder in folders:
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                return


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    config = _loaded_config()
    _setup_logging()
    try:
        run(config, FLAGS.workdir, FLAGS.mode, FLAGS.model, FLAGS.output, FLAGS.progress, FLAGS.limit)
    except SpftError as e:
        _fail(str(e))


def entry() -> None:
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    entry()
