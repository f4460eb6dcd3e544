"""The data layer: Text-to-SQL datasets as the pipeline reads them.

- `catalog`: the datasets we know (Spider, its variants, BIRD, the demo) and their file layouts;
- `raw`: reading a split straight from the dataset's own JSON files;
- `schema_prompts`: the schema prompt stored with each prepared question;
- `tfds_builders` / `prepared`: writing and reading the same splits as TFDS array_record
  datasets (no TensorFlow needed), for pods that keep data in a shared data_dir;
- `source`: one `load_examples` that reads either, for this host's shard;
- `host_shard`: the seeded, resumable per-epoch order over a host's shard;
- `prepare`: the command that writes the TFDS datasets.

Importing this package imports neither JAX nor tensorflow_datasets; only the TFDS modules do,
so code that only needs the raw files does not pay for (or depend on) TFDS.
"""
