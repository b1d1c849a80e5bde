"""The day a question is about: named in its text ("2020年时…"), or `metadata.as_of` through the API."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from kg_route.linking.question_date import question_date
from kgft.contract import Question
from tests.gateway_fakes import FakeRoute, chat_body, make_app


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2020年时，商标法第十条怎么规定？", date(2020, 12, 31)),  # a year alone: the law at its end
        ("二〇一九年五月，甲注册了商标", date(2019, 5, 31)),
        ("2019年5月1日起施行的规定", date(2019, 5, 1)),
        ("2019 年 十二 月 二十一 日", date(2019, 12, 21)),
        ("甲于2018年2月30日签约，2017年起经营", date(2017, 12, 31)),  # no 2月30日: the next date counts
    ],
)
def test_a_question_names_the_day_whose_law_it_asks_about(text, day):
    assert question_date(text) == day


@pytest.mark.parametrize(
    "text",
    [
        "刑法第二百三十二条规定了什么？",
        "罚款2000元以下，处三年以下有期徒刑",
        "宪法修正案（2004年）第一条",  # a year in a law's name
        "被告人2000年出生，年满十六周岁",  # a birth year
        "1800年的法律",  # before the PRC: no statute in the graph
    ],
)
def test_numbers_that_are_not_dates_name_no_day(text):
    assert question_date(text) is None


@pytest.mark.parametrize(
    ("as_of", "message"),
    [("2020-13-01", "not a calendar date"), ("yesterday", "ISO date"), (20200101, "ISO date")],
)
def test_a_malformed_as_of_is_refused_by_the_contract(as_of, message):
    with pytest.raises(ValidationError, match=message):
        Question(id="q", text="商标法第十条", domain="legal", metadata={"as_of": as_of})


def test_the_chat_api_carries_as_of_to_the_route_and_refuses_a_bad_one_with_400(tmp_path):
    kg = FakeRoute("kg")
    app, _ = make_app(tmp_path, {"kg": kg})
    with TestClient(app) as client:
        ok = client.post("/v1/chat/completions", json=chat_body(metadata={"as_of": "2020-06-01", "x": 1}))
        bad = client.post("/v1/chat/completions", json=chat_body(metadata={"as_of": "2020-02-30"}))

    assert ok.status_code == 200
    assert kg.questions[0].metadata == {"as_of": "2020-06-01"}  # the client's other metadata stays its own
    assert bad.status_code == 400
    assert "as_of '2020-02-30' is not a calendar date" in bad.json()["error"]["message"]
    assert len(kg.questions) == 1
