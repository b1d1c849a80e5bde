"""The in-process llama.cpp backend on the real SmolLM2-135M-Instruct GGUF."""

import math

import pytest

from kgft.backends import ChatMessage, create_backend
from kgft.errors import ModelNotFoundError
from kgft.pricing import PriceBook
from kgft.settings import Settings


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    backend = create_backend("gguf:smollm2", Settings(home=tmp_path_factory.mktemp("home"), threads=1))
    yield backend
    backend.close()


def test_answers_a_short_english_prompt_with_real_token_counts(smollm2):
    generation = smollm2.generate([ChatMessage("user", "What is 2+2?")], max_tokens=24)
    assert "4" in generation.text
    # SmolLM2's chat template wraps the prompt with a default system turn: far more tokens than words.
    assert generation.prompt_tokens > 20
    assert 0 < generation.completion_tokens <= 24
    assert generation.model == "SmolLM2-135M-Instruct"


def test_streaming_pieces_join_to_the_text_and_time_the_first_token(smollm2):
    pieces: list[str] = []
    generation = smollm2.generate(
        [ChatMessage("user", "Name three colours.")], max_tokens=16, on_text=pieces.append
    )
    assert "".join(pieces) == generation.text
    assert len(pieces) > 1
    assert generation.first_token_ms is not None
    assert 0 < generation.first_token_ms <= generation.generation_ms
    assert generation.completion_tokens == 16
    assert generation.finish_reason == "length"


def test_scores_continuations_by_log_likelihood(smollm2):
    question = [ChatMessage("user", "What is the capital of France? Answer with one word.")]
    scoring = smollm2.score(question, ["Paris", "Banana"])
    paris, banana = scoring.logprobs
    assert scoring.tokens_read > 20 and scoring.scoring_ms > 0
    assert paris < 0 and banana < 0
    assert paris > banana + 2  # a clear preference, not a coin flip
    # Scoring is deterministic and additive: a longer continuation can only lose probability.
    again, longer = smollm2.score(question, ["Paris", "Paris is the capital"]).logprobs
    assert math.isclose(again, paris, abs_tol=1e-4)
    assert longer < paris


ARTICLE_232 = (
    "《中华人民共和国刑法》第二百三十二条：故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑；"
    "情节较轻的，处三年以上十年以下有期徒刑。"
)
QUESTION_232 = "刑法第二百三十二条规定了什么？"
GOLD_232 = "故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑"
WRONG_232 = "盗窃公私财物，数额较大的"


def test_scores_chinese_options_whose_tokens_end_mid_character(smollm2):
    # Byte-level BPE splits most CJK characters across tokens: the scores are read whole-token all the same.
    bare = smollm2.score([ChatMessage("user", QUESTION_232)], [GOLD_232, WRONG_232]).logprobs
    # transformers' teacher-forced scores on the same weights dequantised (see test_hf_backend.py).
    assert bare == pytest.approx([-138.10, -74.33], rel=0.01)

    with_article = [ChatMessage("user", f"{ARTICLE_232}\n问题：{QUESTION_232}")]
    gold, wrong = smollm2.score(with_article, [GOLD_232, WRONG_232]).logprobs
    assert all(math.isfinite(logprob) for logprob in (gold, wrong))
    assert gold == pytest.approx(-12.60, rel=0.01)
    # With the article to copy from, the gold option is far likelier per character.
    assert gold / len(GOLD_232) > wrong / len(WRONG_232) + 2
    # Every option reads the same prompt, so the order they come in changes nothing.
    reordered = smollm2.score(with_article, [WRONG_232, GOLD_232]).logprobs
    assert reordered == pytest.approx([wrong, gold], abs=1e-4)


def test_cost_is_measured_seconds_times_the_cpu_rate(smollm2):
    generation = smollm2.generate([ChatMessage("user", "Hi")], max_tokens=4)
    cost = smollm2.cost(generation, PriceBook.load())
    assert cost.priced
    assert " s × $0.0446/h (CPU, 1 core × $0.0446/core-h) [" in cost.basis  # and the CPU model
    assert cost.runtime_usd > 0


def test_missing_or_bogus_model_files(tmp_path):
    settings = Settings(home=tmp_path)
    with pytest.raises(ModelNotFoundError, match="not found"):
        create_backend(f"gguf:{tmp_path / 'absent.gguf'}", settings)
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelNotFoundError, match="not a GGUF file"):
        create_backend(f"gguf:{bogus}", settings)
