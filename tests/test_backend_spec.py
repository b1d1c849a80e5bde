import pytest

from kgft.backends import create_backend
from kgft.backends.spec import BackendSpec
from kgft.errors import BackendSpecError
from kgft.settings import Settings


def test_parse_scheme_target_and_options():
    spec = BackendSpec.parse("hf:./models/base?adapter=./lora")
    assert (spec.scheme, spec.target, spec.options) == ("hf", "./models/base", {"adapter": "./lora"})
    url = BackendSpec.parse("openai:deepseek-chat?base_url=https://api.deepseek.com/v1")
    assert url.option("base_url") == "https://api.deepseek.com/v1"


@pytest.mark.parametrize("spec", ["nocolon", "gguf:", ":x", "hf:?adapter=x"])
def test_malformed_specs(spec):
    with pytest.raises(BackendSpecError):
        BackendSpec.parse(spec)


def test_unknown_scheme_names_the_known_ones(tmp_path):
    with pytest.raises(BackendSpecError, match=r"unknown backend 'nope'.*gguf:.*hf:.*openai:"):
        create_backend("nope:x", Settings(home=tmp_path))
