"""Questions the graph itself answers: statute articles and CMeKG disease facts, as SFT examples.

They teach the FT route the same facts the KG route reads, in wording unlike the benchmarks'
(LexEval 1_2 asks "中华人民共和国X法第N条的内容是:"; these use the short law name and other verbs).
Being generated from the graph, they favour the KG route as test items: they are training data only.
"""

from __future__ import annotations

import json
import random

from ft_route.records import SFTExample
from kg_route.linking.law_aliases import CURRENT_STATUS, PRC_PREFIX
from kgft.graph_store import GraphStore

ARTICLE_TEMPLATES = ("《{law}》{number}是怎么规定的？", "请说明《{law}》{number}的规定。")
# The disease facts worth asking about, each with its question and the answer's lead-in.
RELATION_TEMPLATES: dict[str, tuple[str, str]] = {
    "常见症状": ("{name}有哪些常见症状？", "{name}的常见症状有："),
    "就诊科室": ("得了{name}应该去哪个科室就诊？", "{name}可以到以下科室就诊："),
    "药物治疗": ("{name}可以用哪些药物治疗？", "{name}的常用治疗药物有："),
    "并发症": ("{name}可能引起哪些并发症？", "{name}的并发症有："),
    "常见病因": ("{name}的常见病因有哪些？", "{name}的常见病因有："),
    "实验室检查": ("{name}需要做哪些实验室检查？", "{name}的实验室检查项目有："),
    "多发群体": ("{name}多发于哪些人群？", "{name}多发于："),
    "手术治疗": ("{name}有哪些手术治疗方法？", "{name}的手术治疗方法有："),
}
KG_SOURCE = "kg:"  # the source (and id) prefix of every generated question
MAX_OBJECTS = 20  # a longer list is a catalogue, not an answer

_ARTICLES = (
    "MATCH (a:Node) WHERE a.kind = $kind "
    "RETURN a.id AS id, a.name AS name, a.text AS text, a.source AS source, a.props AS props"
)
_FACTS = (
    "MATCH (s:Node)-[r:REL]->(o:Node) WHERE s.kind = $kind AND r.type IN $relations "
    "RETURN s.id AS id, s.name AS name, r.type AS relation, o.name AS object"
)


def kg_questions(store: GraphStore, domain: str, seed: int = 0) -> list[SFTExample]:
    """Every statute article (legal) or disease fact group (medical) in the graph, as one question."""
    return _article_questions(store, seed) if domain == "legal" else _disease_questions(store)


def is_generated(example: SFTExample) -> bool:
    return example.source.startswith(KG_SOURCE)


def _article_questions(store: GraphStore, seed: int) -> list[SFTExample]:
    chosen: dict[tuple[str, str], tuple[tuple[bool, str], SFTExample]] = {}
    for row in sorted(store.read(_ARTICLES, {"kind": "Article"}), key=lambda row: row["id"]):
        props = json.loads(row["props"] or "{}")
        number = props.get("number_zh") or ""
        text = (row["text"] or "").strip()
        law = (row["source"] or "").partition(" ")[0]
        if not (number.startswith("第") and text and law):
            continue  # an unnumbered full text (amendments, decisions) is no article to ask about
        short = law.removeprefix(PRC_PREFIX) or law
        # Seeded by what the question names, not by row order or node id: every version of an
        # article gets the same wording, so only one of them can be asked.
        template = random.Random(f"{seed}:{law}:{number}").choice(ARTICLE_TEMPLATES)
        example = SFTExample(
            id=f"{KG_SOURCE}{row['id']}",
            prompt=template.format(law=short, number=number),
            response=text,
            domain="legal",
            category=short,
            source=f"{KG_SOURCE}{row['id']}",
        )
        # 11 laws hold an old and a current version under one name: the question means the current one.
        preference = (props.get("status") == CURRENT_STATUS, props.get("effective_date") or "")
        previous = chosen.get((law, number))
        if previous is None or preference > previous[0]:
            chosen[(law, number)] = (preference, example)
    return sorted((example for _, example in chosen.values()), key=lambda example: example.id)


def _disease_questions(store: GraphStore) -> list[SFTExample]:
    objects: dict[tuple[str, str, str], set[str]] = {}
    rows = store.read(_FACTS, {"kind": "Disease", "relations": sorted(RELATION_TEMPLATES)})
    for row in rows:
        if row["object"]:
            objects.setdefault((row["id"], row["name"], row["relation"]), set()).add(row["object"])
    examples = []
    for (node_id, name, relation), names in sorted(objects.items()):
        if len(names) > MAX_OBJECTS:
            continue
        question, lead = RELATION_TEMPLATES[relation]
        examples.append(
            SFTExample(
                id=f"{KG_SOURCE}{node_id}:{relation}",
                prompt=question.format(name=name),
                response=lead.format(name=name) + "、".join(sorted(names)) + "。",
                domain="medical",
                category=relation,
                source=f"{KG_SOURCE}{node_id}:{relation}",
            )
        )
    return examples
