"""Loop detection on replies SmolLM2 really wrote, and on answers that repeat on purpose."""

from __future__ import annotations

import pytest

from kg_route.facts import Fact
from kg_route.prompt import build_messages
from kgft.backends import create_backend
from kgft.backends.repetition import is_looping
from kgft.settings import Settings

QUESTION = "中华人民共和国民法典第一千零八十四条适用于什么情形？"
# SmolLM2-135M-Instruct (gguf, greedy) after the KG route's prompt: the question, a variant, the question.
LINE_LOOP = f"{QUESTION}\n\n福制论文中的{QUESTION}\n\n{QUESTION}\n"
# The same model with the shipped legal LoRA (hf): one phrase over and over.
PHRASE_LOOP = "根据中华人民共和国民法典第一千零八十四条，具体条例，具体条例，具体条例，具体条例"


@pytest.mark.parametrize("text", [LINE_LOOP, PHRASE_LOOP])
def test_real_loops_are_caught(text):
    assert is_looping(text)


@pytest.mark.parametrize(
    "text",
    [
        LINE_LOOP.rsplit(QUESTION, 1)[0],  # before the repeat: not yet
        PHRASE_LOOP.rsplit("，具体条例", 1)[0],  # three times running is still speech
        "| 条文 | 罪名 |\n|---|---|\n| 第264条 | 盗窃罪 |\n\n"
        "| 条文 | 罪名 |\n|---|---|\n| 第266条 | 诈骗罪 |\n",
        "第一，故意杀人的，处死刑。\n第二，情节较轻的，处三年以上十年以下有期徒刑。\n----------------\n",
        "哈哈哈哈哈哈，太好了！",  # laughter is not a loop
        "The court held:\n- yes\n- yes\n- yes\n",  # short lines repeat freely
    ],
)
def test_answers_that_repeat_on_purpose_go_on(text):
    assert not is_looping(text)


ARTICLE_1084 = (
    "父母与子女间的关系，不因父母离婚而消除。离婚后，子女无论由父或者母直接抚养，仍是父母双方的子女。\n"
    "离婚后，父母对于子女仍有抚养、教育、保护的权利和义务。\n"
    "离婚后，不满两周岁的子女，以由母亲直接抚养为原则。已满两周岁的子女，父母双方对抚养问题协议不成的，"
    "由人民法院根据双方的具体情况，按照最有利于未成年子女的原则判决。子女已满八周岁的，应当尊重其真实意愿。"
)


def test_a_looping_gguf_reply_stops_early_with_its_tokens_counted(tmp_path):
    """The KG route's prompt for the question above, as it loops in LINE_LOOP."""
    backend = create_backend("gguf:smollm2", Settings(home=tmp_path, threads=1))
    fact = Fact("article:1084", ARTICLE_1084, "中华人民共和国民法典 第一千零八十四条")
    messages = build_messages(QUESTION + "请简要回答。", [fact])
    generation = backend.generate(messages, max_tokens=256)
    assert generation.finish_reason == "stop" and is_looping(generation.text)
    assert 10 < generation.completion_tokens < 256 and generation.prompt_tokens > 20
    streamed: list[str] = []
    again = backend.generate(messages, max_tokens=256, on_text=streamed.append)
    assert "".join(streamed) == again.text == generation.text
    assert again.completion_tokens == generation.completion_tokens
