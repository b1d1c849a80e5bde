"""Over-long prompts lose their longest message's middle until they fit (kgft.backends.context_fit)."""

import pytest

from kgft.backends import ChatMessage, create_backend
from kgft.backends.base import Generation
from kgft.backends.context_fit import CUT_MARK, fit_context
from kgft.errors import ContextLengthError
from kgft.settings import Settings
from tests.tiny_llama import build_tiny_llama

HEAD, TAIL = "指令：请阅读案情并选择案由。", "被告人涉及的案由是： A: 合同纠纷 B: 侵权纠纷"


def counted(limit: int, tokens_per_char: float = 2.0):
    """An attempt that counts tokens as a Chinese-heavy prompt does and refuses past `limit`."""
    seen: list[list[ChatMessage]] = []

    def attempt(messages):
        seen.append(list(messages))
        tokens = int(sum(len(m.content) for m in messages) * tokens_per_char) + 30
        if tokens > limit:
            raise ContextLengthError(f"{tokens} > {limit}", tokens=tokens, limit=limit)
        return Generation(text="ok", model="m", prompt_tokens=tokens, completion_tokens=1, generation_ms=1)

    return attempt, seen


def long_case(chars: int) -> list[ChatMessage]:
    return [
        ChatMessage("system", "You are a legal assistant."),
        ChatMessage("user", HEAD + "案" * chars + TAIL),
    ]


def test_the_middle_goes_and_the_head_and_tail_stay():
    attempt, seen = counted(limit=2_000)
    generation = fit_context(attempt, long_case(5_000), enabled=True)
    fitted = seen[-1][1].content
    assert fitted.startswith(HEAD) and fitted.endswith(TAIL) and CUT_MARK in fitted
    assert seen[-1][0] == long_case(0)[0]  # the short system turn is untouched
    assert generation.prompt_tokens <= 2_000
    assert generation.prompt_cut_chars == len(long_case(5_000)[1].content) - len(fitted) + len(CUT_MARK)


def test_an_underestimate_is_cut_again_and_a_reply_reserve_is_kept():
    attempt, seen = counted(limit=3_000, tokens_per_char=3.0)  # denser than the estimate
    generation = fit_context(attempt, long_case(4_000), enabled=True, reserve=256)
    assert len(seen) >= 2 and generation.prompt_tokens <= 3_000 - 256


def test_off_or_uncountable_or_too_short_to_cut_keeps_the_error():
    attempt, _ = counted(limit=2_000)
    with pytest.raises(ContextLengthError):
        fit_context(attempt, long_case(5_000), enabled=False)

    def uncounted(messages):
        raise ContextLengthError("too long, counts unknown")

    with pytest.raises(ContextLengthError, match="counts unknown"):
        fit_context(uncounted, long_case(5_000), enabled=True)
    tight, _ = counted(limit=250)  # fitting would leave under 200 characters of the case
    with pytest.raises(ContextLengthError, match="> 250"):
        fit_context(tight, long_case(5_000), enabled=True)


def test_a_fitting_prompt_is_sent_as_it_is():
    attempt, seen = counted(limit=100_000)
    assert fit_context(attempt, long_case(500), enabled=True).prompt_cut_chars == 0
    assert seen == [long_case(500)]


def test_a_real_transformers_model_scores_and_answers_a_prompt_past_its_context(tmp_path):
    settings = Settings(home=tmp_path / "home", threads=2)
    tiny = create_backend(f"hf:{build_tiny_llama(tmp_path / 'tiny')}", settings)  # 2,048 positions
    messages = [ChatMessage("user", "Case: " + "the accused took the goods. " * 600 + "Which crime?")]
    scoring = tiny.score(messages, ["theft", "fraud"])
    assert scoring.prompt_cut_chars > 0 and scoring.tokens_read <= 2_048
    generation = tiny.generate(messages, max_tokens=8)
    assert generation.prompt_cut_chars > 0 and generation.prompt_tokens + 8 <= 2_048
    short = create_backend(f"hf:{tmp_path / 'tiny'}?ctx=512", settings)
    assert 0 < short.score(messages, ["theft"]).tokens_read <= 512
    strict = create_backend(f"hf:{tmp_path / 'tiny'}", settings.model_copy(update={"fit_context": False}))
    with pytest.raises(ContextLengthError, match="context of 2048 tokens"):
        strict.score(messages, ["theft"])


def test_real_llama_cpp_answers_a_prompt_past_its_context(tmp_path):
    smollm2 = create_backend("gguf:smollm2?ctx=512", Settings(home=tmp_path, threads=2))
    try:
        messages = [ChatMessage("user", "Facts: " + "He took a bike. " * 300 + "Name the crime in one word.")]
        generation = smollm2.generate(messages, max_tokens=16)
        assert generation.prompt_cut_chars > 0 and generation.prompt_tokens + 16 <= 512
        assert generation.text.strip()
    finally:
        smollm2.close()
