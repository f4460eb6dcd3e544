"""The Text-to-SQL datasets we know: where each split's files sit, and how to credit them.

Every dataset is a folder (the "manual dir", TFDS's name for data a user downloads by hand)
holding question files, a Spider-format tables file and a database folder
`<db_dir>/<db_id>/<db_id>.sqlite`. The raw reader, the TFDS builders and the error messages all
read the layout from here, so a file name is written down once.

Spider's variants reuse Spider's schemas and databases; their folder holds the variant's
question files beside Spider's `tables.json` and `database/` (copied or symlinked):
- Spider-Syn (github.com/ygan/Spider-Syn, folder `Spider-Syn/`): `train_spider.json`,
  `dev.json`; the paraphrased question is the field `SpiderSynQuestion` (the original stays in
  `SpiderQuestion`, kept as an extra field);
- Spider-Realistic (zenodo.org/record/5205322): `spider-realistic.json` (dev only);
- Spider-DK (github.com/ygan/Spider-DK): `Spider-DK.json` (dev only; the repository ships its
  own `tables.json`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping

from spft_jax.demo import DATA_DIR as DEMO_DATA_DIR
from spft_jax.errors import ConfigError, DataError

# TFDS split names; Spider's "dev" is the validation split.
SPLITS = ("train", "validation")


@dataclasses.dataclass(frozen=True)
class SplitLayout:
    """One split's files, relative to the dataset folder.

    `questions` lists the split's question files in order; each is a tuple of accepted names,
    the official one first (Spider's training files also exist as `*.reconstructed.json`, the
    official questions with only db_id/question/query)."""

    questions: tuple[tuple[str, ...], ...]
    tables: str
    db_dir: str


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str  # what --dataset and the config's `dataset` field say
    title: str
    description: str
    homepage: str
    citation: str
    license: str
    splits: Mapping[str, SplitLayout]
    builder: str  # TFDS builder name
    config: str  # TFDS builder config name
    query_field: str = "query"  # BIRD: "SQL"
    question_field: str = "question"  # Spider-Syn: "SpiderSynQuestion"
    evidence_field: str | None = None  # BIRD: "evidence", the hint written with each question
    sqlite_column_types: bool = False  # BIRD's tables file names SQLite types, not Spider's
    packaged_root: pathlib.Path | None = None  # the demo ships inside the package


@dataclasses.dataclass(frozen=True)
class SplitFiles:
    """A split's files, found on disk."""

    questions: tuple[pathlib.Path, ...]
    tables: pathlib.Path
    db_dir: pathlib.Path


SPIDER_CITATION = """@inproceedings{yu-etal-2018-spider,
  title = {Spider: A Large-Scale Human-Labeled Dataset for Complex and Cross-Domain Semantic
           Parsing and Text-to-SQL Task},
  author = {Yu, Tao and Zhang, Rui and Yang, Kai and Yasunaga, Michihiro and Wang, Dongxu and
            Li, Zifan and Ma, James and Li, Irene and Yao, Qingning and Roman, Shanelle and
            Zhang, Zilin and Radev, Dragomir},
  booktitle = {Proceedings of the 2018 Conference on Empirical Methods in Natural Language
               Processing},
  pages = {3911--3921},
  year = {2018}
}"""

SPIDER_SYN_CITATION = """@inproceedings{gan-etal-2021-towards,
  title = {Towards Robustness of Text-to-SQL Models against Synonym Substitution},
  author = {Gan, Yujian and Chen, Xinyun and Huang, Qiuping and Purver, Matthew and
            Woodward, John R. and Xie, Jinxia and Huang, Pengsheng},
  booktitle = {Proceedings of the 59th Annual Meeting of the Association for Computational
               Linguistics and the 11th International Joint Conference on Natural Language
               Processing},
  year = {2021}
}"""

SPIDER_REALISTIC_CITATION = """@inproceedings{deng-etal-2021-structure,
  title = {Structure-Grounded Pretraining for Text-to-SQL},
  author = {Deng, Xiang and Awadallah, Ahmed Hassan and Meek, Christopher and Polozov, Oleksandr
            and Sun, Huan and Richardson, Matthew},
  booktitle = {Proceedings of the 2021 Conference of the North American Chapter of the
               Association for Computational Linguistics: Human Language Technologies},
  year = {2021}
}"""

SPIDER_DK_CITATION = """@inproceedings{gan-etal-2021-exploring,
  title = {Exploring Underexplored Limitations of Cross-Domain Text-to-SQL Generalization},
  author = {Gan, Yujian and Chen, Xinyun and Purver, Matthew},
  booktitle = {Proceedings of the 2021 Conference on Empirical Methods in Natural Language
               Processing},
  year = {2021}
}"""

BIRD_CITATION = """@inproceedings{li2023bird,
  title = {Can LLM Already Serve as A Database Interface? A BIg Bench for Large-Scale Database
           Grounded Text-to-SQLs},
  author = {Li, Jinyang and Hui, Binyuan and Qu, Ge and Yang, Jiaxi and Li, Binhua and Li, Bowen
            and Wang, Bailin and Qin, Bowen and Geng, Ruiying and Huo, Nan and Zhou, Xuanhe and
            Ma, Chenhao and Li, Guoliang and Chang, Kevin C. C. and Huang, Fei and Cheng, Reynold
            and Li, Yongbin},
  booktitle = {Advances in Neural Information Processing Systems (Datasets and Benchmarks)},
  year = {2023}
}"""

CC_BY_SA_4 = "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)"


def _spider_layout(*questions: tuple[str, ...]) -> SplitLayout:
    return SplitLayout(questions=questions, tables="tables.json", db_dir="database")


_SPIDER_TRAIN = _spider_layout(
    ("train_spider.json", "train_spider.reconstructed.json"),
    ("train_others.json", "train_others.reconstructed.json"),
)
_SPIDER_DEV = _spider_layout(("dev.json",))

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="spider",
            title="Spider",
            description="Spider 1.0: cross-domain Text-to-SQL over 200 SQLite databases; "
            "train is train_spider + train_others, validation is dev.",
            homepage="https://yale-lily.github.io/spider",
            citation=SPIDER_CITATION,
            license=CC_BY_SA_4,
            splits={"train": _SPIDER_TRAIN, "validation": _SPIDER_DEV},
            builder="spider",
            config="spider",
        ),
        DatasetSpec(
            name="spider_syn",
            title="Spider-Syn",
            description="Spider with schema-related words in the questions replaced by "
            "synonyms (question field SpiderSynQuestion); Spider's schemas and databases.",
            homepage="https://github.com/ygan/Spider-Syn",
            citation=SPIDER_SYN_CITATION + "\n" + SPIDER_CITATION,
            license=CC_BY_SA_4,
            splits={
                "train": _spider_layout(("train_spider.json",)),
                "validation": _SPIDER_DEV,
            },
            builder="spider",
            config="syn",
            question_field="SpiderSynQuestion",
        ),
        DatasetSpec(
            name="spider_realistic",
            title="Spider-Realistic",
            description="Spider dev with explicit column mentions removed from the questions; "
            "Spider's schemas and databases.",
            homepage="https://zenodo.org/record/5205322",
            citation=SPIDER_REALISTIC_CITATION + "\n" + SPIDER_CITATION,
            license=CC_BY_SA_4,
            splits={"validation": _spider_layout(("spider-realistic.json",))},
            builder="spider",
            config="realistic",
        ),
        DatasetSpec(
            name="spider_dk",
            title="Spider-DK",
            description="Spider dev questions that need domain knowledge; Spider's databases.",
            homepage="https://github.com/ygan/Spider-DK",
            citation=SPIDER_DK_CITATION + "\n" + SPIDER_CITATION,
            license=CC_BY_SA_4,
            splits={"validation": _spider_layout(("Spider-DK.json",))},
            builder="spider",
            config="dk",
        ),
        DatasetSpec(
            name="bird",
            title="BIRD",
            description="BIRD: Text-to-SQL over large real-world databases, each question with "
            "external-knowledge evidence; the gold SQL is the field SQL.",
            homepage="https://bird-bench.github.io",
            citation=BIRD_CITATION,
            license=CC_BY_SA_4,
            splits={
                "train": SplitLayout(
                    questions=(("train/train.json",),),
                    tables="train/train_tables.json",
                    db_dir="train/train_databases",
                ),
                "validation": SplitLayout(
                    questions=(("dev/dev.json",),),
                    tables="dev/dev_tables.json",
                    db_dir="dev/dev_databases",
                ),
            },
            builder="bird",
            config="bird",
            query_field="SQL",
            evidence_field="evidence",
            sqlite_column_types=True,
        ),
        DatasetSpec(
            name="demo",
            title="spft-jax demo benchmark",
            description="The small Spider-format benchmark embedded in spft-jax "
            "(spft_jax/demo): 8 databases, dev databases unseen in training.",
            homepage="",
            citation="",
            license="Apache-2.0",
            splits={
                "train": _spider_layout(("train.json",)),
                "validation": _spider_layout(("dev.json",)),
            },
            builder="spft_demo",
            config="demo",
            packaged_root=DEMO_DATA_DIR,
        ),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """The dataset called `name`, with an error that lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {known}") from None


def check_split(spec: DatasetSpec, split: str) -> SplitLayout:
    """The layout of `split`, or an error naming the splits `spec` has."""
    if split not in spec.splits:
        raise ConfigError(
            f"{spec.name} has no split {split!r}; its splits: {', '.join(spec.splits)}"
        )
    return spec.splits[split]


def dataset_root(spec: DatasetSpec, manual_dir: str | pathlib.Path | None) -> pathlib.Path:
    """The folder holding `spec`'s files: the packaged demo, or the user's manual dir."""
    if spec.packaged_root is not None:
        if manual_dir is not None:
            raise ConfigError(
                f"{spec.name} ships inside the package; manual_dir must not be set "
                f"(got {manual_dir})"
            )
        return spec.packaged_root
    if manual_dir is None:
        raise ConfigError(
            f"{spec.name} needs manual_dir: the folder holding its question files, "
            f"tables file and databases ({_expected_files(spec)})"
        )
    root = pathlib.Path(manual_dir)
    if not root.is_dir():
        raise DataError(f"{spec.name}: manual_dir {root} is not a directory")
    return root


def split_files(
    spec: DatasetSpec,
    manual_dir: str | pathlib.Path | None,
    split: str,
    need_questions: bool = True,
) -> SplitFiles:
    """Finds `split`'s files on disk; a missing one is an error naming it and the dataset.
    Readers of a prepared dataset take the questions from it and pass `need_questions=False`:
    they need only the tables file and the databases."""
    layout = check_split(spec, split)
    root = dataset_root(spec, manual_dir)
    questions = (
        tuple(_find(spec, root, names) for names in layout.questions) if need_questions else ()
    )
    tables = _find(spec, root, (layout.tables,))
    db_dir = root / layout.db_dir
    if not db_dir.is_dir():
        raise DataError(f"{spec.name}: database folder {layout.db_dir}/ not found in {root}")
    return SplitFiles(questions=questions, tables=tables, db_dir=db_dir)


def _find(spec: DatasetSpec, root: pathlib.Path, names: tuple[str, ...]) -> pathlib.Path:
    for name in names:
        if (root / name).is_file():
            return root / name
    alternatives = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise DataError(f"{spec.name}: {names[0]}{alternatives} not found in {root}")


def _expected_files(spec: DatasetSpec) -> str:
    layouts = spec.splits.values()
    files = [names[0] for layout in layouts for names in layout.questions]
    files += sorted({layout.tables for layout in layouts})
    files += sorted({layout.db_dir + "/" for layout in layouts})
    return ", ".join(files)
