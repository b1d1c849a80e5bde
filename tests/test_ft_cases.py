"""`kgft ft data --source cases`: CAIL2018 facts → charge/article pairs, cleaned as the graph cleans them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ft_route.data import build_dataset
from ft_route.data.cases import named_source
from ft_route.records import TRAIN_FILE, read_examples
from kgft.contamination import load_eval_stems
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources.cases import case_files, clean_cases, read_cases

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CASES, LEXEVAL_3_1 = DATA / "legal" / "cases", DATA / "legal" / "eval" / "lexeval" / "3_1.json"
pytestmark = pytest.mark.skipif(not CASES.is_dir(), reason=f"shared data {DATA} is absent")


def test_case_pairs_lose_the_same_overlapping_cases_as_the_graph(tmp_path):
    lines = [line for path in case_files(CASES) for line in path.read_text("utf-8").splitlines()][::40]
    stem = json.loads(LEXEVAL_3_1.read_text("utf-8").splitlines()[1])["input"].split("被告人涉及的案由是")[0]
    planted = json.dumps(
        {"fact": stem, "meta": {"accusation": ["盗窃"], "relevant_articles": [264]}}, ensure_ascii=False
    )
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "slice.jsonl").write_text("\n".join([*lines, planted]) + "\n", "utf-8")
    settings = Settings(home=tmp_path / "home", threads=1)

    card = build_dataset(
        "legal",
        tmp_path / "out",
        settings=settings,
        prices=PriceBook.load(),
        n=60,
        sources=[folder],
        eval_sets=[LEXEVAL_3_1],
        progress=False,
    )

    cases = read_cases(case_files(folder)).cases
    graph_side = clean_cases(cases, load_eval_stems(LEXEVAL_3_1), [str(LEXEVAL_3_1)])
    assert card.dropped["contaminated_cases"] == len(graph_side.report.contaminated_ids) >= 1
    assert cases[-1].id in graph_side.report.contaminated_ids  # the planted copy of a LexEval item
    train = list(read_examples(tmp_path / "out" / TRAIN_FILE))
    kept = {case.id: case for case in graph_side.kept}
    assert train and all(example.id in kept for example in train)
    example = train[0]
    case = kept[example.id]
    assert example.prompt.startswith(case.fact) and example.response.startswith(f"罪名：{case.charges[0]}")
    assert f"刑法第{case.articles[0]}条" in example.response
    assert named_source(Path("cases"), DATA) == CASES
