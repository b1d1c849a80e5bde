"""`kg-medical`: MCQs generated from CMeKG disease facts (reported apart): one true object, three false.

"X的常见症状是下列哪一项？": the gold is an object the KG links to X; distractors are objects the KG links
to other diseases by the same relation and never to X (nor contain, or are contained in, X's objects, so
"内科" is no distractor when X is seen in "消化内科").
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from eval.datasets.base import DatasetError, require_folder, shuffled_options
from eval.datasets.cmekg import Facts, disease_facts
from eval.items import Dataset, EvalItem

FOLDER = "medical/kg/cmekg"
TEMPLATES = {
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
class KgMedicalQuestions:
    n: int

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        facts = disease_facts(require_folder(data_dir, FOLDER, "kg-medical"), TEMPLATES)
        rng = random.Random(seed)
        pools = [_Pool(facts, relation, rng) for relation in TEMPLATES]
        items: list[EvalItem] = []
        # Round robin over relations, so a symptom-heavy KG still yields a balanced set.
        while len(items) < self.n and any(pool.queue for pool in pools):
            items += [item for pool in pools if (item := pool.next_item(rng)) is not None]
        if len(items) < self.n:
            raise DatasetError(f"kg-medical can generate at most {len(items)} questions, asked for {self.n}")
        return Dataset(f"kg-medical:{self.n}:seed{seed}", items[: self.n], kg_derived=True)


class _Pool:
    """One relation's askable diseases (in seeded order) and its distractor objects."""

    def __init__(self, facts: Facts, relation: str, rng: random.Random):
        self.relation = relation
        self.objects = facts[relation]
        diseases_per_object = Counter(obj for objects in self.objects.values() for obj in objects)
        limit = MAX_SHARE * len(self.objects)
        askable = {obj for obj, count in diseases_per_object.items() if MIN_DISEASES <= count <= limit}
        self.gold_choices = {
            disease: sorted(objects & askable)
            for disease, objects in self.objects.items()
            if objects & askable
        }
        self.distractors = sorted(askable)
        self.queue = sorted(self.gold_choices)
        rng.shuffle(self.queue)

    def next_item(self, rng: random.Random) -> EvalItem | None:
        if not self.queue:
            return None
        disease = self.queue.pop()
        gold = rng.choice(self.gold_choices[disease])
        distractors = self._distractors(self.objects[disease], rng)
        if distractors is None:
            return None
        options, letter = shuffled_options(gold, distractors, rng)
        relation = self.relation
        question = TEMPLATES[relation].format(disease=disease)
        meta = {"disease": disease, "relation": relation}
        return EvalItem(
            f"kg-medical/{relation}/{disease}", question, letter, "medical", options, relation, meta
        )

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
