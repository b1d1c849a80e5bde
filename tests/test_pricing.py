from decimal import Decimal

import pytest

from kgft.errors import PricingError
from kgft.pricing import PriceBook, combine


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.load()


def test_shipped_prices_cover_deepseek_qwen_openai_and_devices(book):
    for model in ("deepseek-chat", "qwen-plus", "gpt-4o-mini"):
        assert model in book.models
    assert {"h100", "a100", "cpu"} <= set(book.devices)


def test_token_cost_is_exact_decimal_with_its_formula(book):
    cost = book.token_cost("deepseek-chat", prompt_tokens=812, completion_tokens=64)
    # 812 × 0.28 + 64 × 0.42 = 227.36 + 26.88 = 254.24 per million tokens
    assert cost.runtime_usd == Decimal("0.00025424")
    assert cost.basis == "812 in × $0.28/M + 64 out × $0.42/M"
    assert cost.priced


def test_cached_tokens_are_priced_at_the_cached_rate(book):
    cost = book.token_cost("gpt-4o-mini", prompt_tokens=1000, completion_tokens=0, cached_tokens=400)
    # 600 × 0.15 + 400 × 0.075 = 90 + 30 = 120 per million
    assert cost.runtime_usd == Decimal("0.00012")
    assert "400 cached × $0.075/M" in cost.basis


def test_missing_cached_price_falls_back_to_input(book):
    cost = book.token_cost("qwen-plus", prompt_tokens=1000, completion_tokens=1000, cached_tokens=1000)
    assert cost.runtime_usd == Decimal("0.0016")  # 1000 × 0.40 + 1000 × 1.20 per million


def test_compute_cost_uses_measured_seconds(book):
    cost = book.compute_cost("h100", seconds=1.92)
    assert cost.runtime_usd == Decimal("0.001594666667")  # 1.92 × 2.99 / 3600, at 1e-12
    assert cost.basis == "1.92 s × $2.99/h (H100)"
    per_core = book.compute_cost("cpu", seconds=3600, cores=2)
    assert per_core.runtime_usd == Decimal("0.0892")


def test_unknown_model_or_device_is_never_a_silent_zero(book):
    cost = book.token_cost("my-private-model", 100, 10)
    assert cost.priced is False
    assert cost.basis.startswith("unpriced: no token price for model 'my-private-model'")
    assert book.compute_cost("tpu", 1.0).priced is False


def test_user_file_overrides_and_extends(tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[models."deepseek-chat"]\ninput = "1"\noutput = "2"\n'
        '[models."my-model"]\ninput = "0.5"\noutput = "0.5"\n'
        '[devices.cpu]\nlabel = "CPU"\nusd_per_hour = "0.10"\nper_core = true\n',
        encoding="utf-8",
    )
    book = PriceBook.load(prices)
    assert book.token_cost("deepseek-chat", 1_000_000, 0).runtime_usd == Decimal(1)
    assert book.token_cost("my-model", 2_000_000, 0).runtime_usd == Decimal(1)
    assert book.compute_cost("cpu", 3600, cores=4).runtime_usd == Decimal("0.4")
    assert "gpt-4o" in book.models  # shipped entries stay


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[models.x]\ninput = "abc"\noutput = "1"\n', "models.x.input: 'abc' is not a number"),
        ('[models.x]\ninput = "-1"\noutput = "1"\n', "negative"),
        ("[models.x\n", "not valid TOML"),
    ],
)
def test_bad_price_files_fail_clearly(tmp_path, body, message):
    prices = tmp_path / "p.toml"
    prices.write_text(body, encoding="utf-8")
    with pytest.raises(PricingError, match=message):
        PriceBook.load(prices)


def test_missing_price_file(tmp_path):
    with pytest.raises(PricingError, match="does not exist"):
        PriceBook.load(tmp_path / "nope.toml")


def test_combined_cost_adds_parts_and_stays_unpriced_if_any_part_is(book):
    retrieval = book.compute_cost("cpu", seconds=0.002, cores=1)
    generation = book.token_cost("deepseek-chat", 812, 64)
    total = combine(retrieval, generation)
    assert total.runtime_usd == retrieval.runtime_usd + generation.runtime_usd
    assert total.basis == f"({retrieval.basis}) + ({generation.basis})"
    assert total.priced
    assert not combine(retrieval, book.token_cost("unknown-model", 1, 1)).priced


def test_sub_millisecond_work_is_not_free(book):
    cost = book.compute_cost("cpu", seconds=0.0004, cores=1)
    assert cost.runtime_usd > 0
    assert cost.basis.startswith("0.0004 s × $0.0446/h")


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_prices_are_refused(tmp_path, bad):
    prices = tmp_path / "p.toml"
    prices.write_text(f'[models.x]\ninput = "{bad}"\noutput = "1"\n', encoding="utf-8")
    with pytest.raises(PricingError, match="not a finite price"):
        PriceBook.load(prices)


def test_more_cached_than_prompt_tokens_is_an_error(book):
    with pytest.raises(PricingError, match="cached tokens"):
        book.token_cost("deepseek-chat", prompt_tokens=10, completion_tokens=5, cached_tokens=20)
