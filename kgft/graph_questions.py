"""Questions the graph itself answers: open QA for the FT route's training data, MCQs for eval.

Both are worded unlike the benchmarks (LexEval 1_2 asks "中华人民共和国X法第N条的内容是:"), so they
test or teach the facts rather than a template. Being generated from the graph, they favour the KG
route: as eval items they are reported apart (KG-derived), and FT uses them as training data only.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from kgft.contract import Domain
from kgft.graph_facts import (
    DiseaseFact,
    StatuteArticle,
    disease_facts,
    object_values,
    statute_articles,
)
from kgft.graph_store import GraphStore

# --- open QA (FT) ---------------------------------------------------------------------------------

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
MAX_OBJECTS = 20  # a longer list is a catalogue, not an answer


@dataclass(frozen=True)
class OpenQuestion:
    key: str  # what it asks about: the article's node id, or "{disease node id}:{relation}"
    question: str
    answer: str
    domain: Domain
    category: str  # the law's short name, or the relation


def open_questions(store: GraphStore, domain: str, seed: int = 0) -> list[OpenQuestion]:
    """Every statute article (legal) or disease fact group (medical) in the graph, as one question."""
    if domain == "legal":
        return [_article_question(article, seed) for article in statute_articles(store)]
    facts = disease_facts(store, RELATION_TEMPLATES)
    return [_disease_question(fact) for fact in facts if len(fact.objects) <= MAX_OBJECTS]


def _article_question(article: StatuteArticle, seed: int) -> OpenQuestion:
    # Seeded by what the question names, not by row order or node id: every version of an article
    # gets the same wording.
    template = random.Random(f"{seed}:{article.law}:{article.number}").choice(ARTICLE_TEMPLATES)
    question = template.format(law=article.short_law, number=article.number)
    return OpenQuestion(article.id, question, article.text, "legal", article.short_law)


def _disease_question(fact: DiseaseFact) -> OpenQuestion:
    question, lead = RELATION_TEMPLATES[fact.relation]
    answer = lead.format(name=fact.disease) + "、".join(sorted(fact.objects)) + "。"
    key = f"{fact.disease_id}:{fact.relation}"
    return OpenQuestion(key, question.format(name=fact.disease), answer, "medical", fact.relation)


# --- MCQs (eval) ----------------------------------------------------------------------------------

STATUTE_MCQ = "《{law}》{number}规定的是下列哪一项？"
# Long articles make four-option prompts huge and short ones are boilerplate ("本法自公布之日起施行。").
MIN_ARTICLE_CHARS, MAX_ARTICLE_CHARS = 15, 150
DISEASE_MCQS = {
    "常见症状": "{disease}的常见症状是下列哪一项？",
    "就诊科室": "{disease}患者通常应到下列哪个科室就诊？",
    "药物治疗": "下列哪种药物常用于治疗{disease}？",
    "并发症": "{disease}可能引起下列哪种并发症？",
}
DISTRACTORS = 3
# Objects linked to one disease only are mostly parsing fragments; objects linked to a large share of
# diseases (疼痛, 发热, 骨科) are plausibly true of X even where the KG does not say so: neither is asked.
MIN_DISEASES = 2
MAX_SHARE = 0.05
_DRAWS = 200  # distractor draws per question before the question is skipped


@dataclass(frozen=True)
class ChoiceQuestion:
    key: str  # what it asks about: the article's node id, or "{relation}/{disease}"
    question: str
    options: dict[str, str]  # A.. in seeded random order, so the gold letter carries no signal
    gold: str
    category: str  # the law's name, or the relation
    meta: dict[str, str]


def statute_mcqs(articles: Sequence[StatuteArticle], n: int, seed: int) -> list[ChoiceQuestion]:
    """Up to n "《X》第N条规定的是下列哪一项？": the article in force against three others of its law."""
    by_law = _askable_by_law([article for article in articles if article.in_force])
    candidates = [article for found in by_law.values() for article in found]
    rng = random.Random(seed)
    questions = []
    for article in rng.sample(candidates, min(n, len(candidates))):
        others = [other for other in by_law[article.law] if other.id != article.id]
        distractors = [_one_line(other.text) for other in rng.sample(others, DISTRACTORS)]
        options, gold = _shuffled(_one_line(article.text), distractors, rng)
        question = STATUTE_MCQ.format(law=article.law, number=article.number)
        meta = {"law": article.law, "article": article.number, "article_id": article.id}
        questions.append(ChoiceQuestion(article.id, question, options, gold, article.law, meta))
    return questions


def disease_mcqs(facts: Sequence[DiseaseFact], n: int, seed: int) -> list[ChoiceQuestion]:
    """Up to n MCQs over `DISEASE_MCQS`: one object the KG links to the disease, three it does not."""
    values: dict[str, dict[str, set[str]]] = {relation: defaultdict(set) for relation in DISEASE_MCQS}
    for fact in facts:
        if fact.relation in values:
            for name in fact.objects:
                values[fact.relation][fact.disease] |= object_values(name)
    rng = random.Random(seed)
    pools = [_Pool(relation, values[relation], rng) for relation in DISEASE_MCQS]
    questions: list[ChoiceQuestion] = []
    # Round robin over relations, so a symptom-heavy KG still yields a balanced set.
    while len(questions) < n and any(pool.queue for pool in pools):
        questions += [question for pool in pools if (question := pool.next_question(rng)) is not None]
    return questions[:n]


def _askable_by_law(articles: list[StatuteArticle]) -> dict[str, list[StatuteArticle]]:
    """Articles whose text is unique among those given (else two options could both be right), per law."""
    counts = Counter(_one_line(article.text) for article in articles)
    by_law: dict[str, list[StatuteArticle]] = defaultdict(list)
    for article in articles:
        text = _one_line(article.text)
        if MIN_ARTICLE_CHARS <= len(text) <= MAX_ARTICLE_CHARS and counts[text] == 1 and "删去" not in text:
            by_law[article.law].append(article)
    return {law: found for law, found in by_law.items() if len(found) > DISTRACTORS}


def _one_line(text: str) -> str:
    """Paragraphs on one line, so the option list stays one option per line."""
    return " ".join(text.split())


class _Pool:
    """One relation's askable diseases (in seeded order) and its distractor objects.

    Distractors are objects the KG links to other diseases by the same relation and never to this
    one, nor contain or are contained in its objects, so "内科" is no distractor when X is seen in
    "消化内科".
    """

    def __init__(self, relation: str, objects: dict[str, set[str]], rng: random.Random):
        self.relation = relation
        self.objects = objects
        diseases_per_object = Counter(obj for found in objects.values() for obj in found)
        limit = MAX_SHARE * len(objects)
        askable = {obj for obj, count in diseases_per_object.items() if MIN_DISEASES <= count <= limit}
        self.gold_choices = {
            disease: sorted(found & askable) for disease, found in objects.items() if found & askable
        }
        self.distractors = sorted(askable)
        self.queue = sorted(self.gold_choices)
        rng.shuffle(self.queue)

    def next_question(self, rng: random.Random) -> ChoiceQuestion | None:
        if not self.queue:
            return None
        disease = self.queue.pop()
        gold = rng.choice(self.gold_choices[disease])
        distractors = self._distractors(self.objects[disease], rng)
        if distractors is None:
            return None
        options, letter = _shuffled(gold, distractors, rng)
        question = DISEASE_MCQS[self.relation].format(disease=disease)
        meta = {"disease": disease, "relation": self.relation}
        return ChoiceQuestion(f"{self.relation}/{disease}", question, options, letter, self.relation, meta)

    def _distractors(self, true_objects: set[str], rng: random.Random) -> list[str] | None:
        chosen: list[str] = []
        for _ in range(_DRAWS):
            candidate = rng.choice(self.distractors)
            related = any(candidate in obj or obj in candidate for obj in true_objects)
            if not related and candidate not in chosen:
                chosen.append(candidate)
                if len(chosen) == DISTRACTORS:
                    return chosen
        return None


def _shuffled(correct: str, distractors: list[str], rng: random.Random) -> tuple[dict[str, str], str]:
    """Options A.. in random order; returns (options, the correct letter)."""
    texts = [correct, *distractors]
    rng.shuffle(texts)
    options = {chr(ord("A") + index): text for index, text in enumerate(texts)}
    return options, next(letter for letter, text in options.items() if text == correct)
