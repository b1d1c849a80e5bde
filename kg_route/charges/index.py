"""Rank the graph's charges for a fact description: four signals, each scaled to its best, then weighted.

(a) articles: BM25 of the fact against each charge's name, aliases and element phrases (the only signal
    for a charge no precedent holds);
(b) precedents, nearest: the k most similar cases (BM25 over character bigrams) vote for their charges,
    each vote weighted by its similarity to the best match;
(c) precedents, profile: cosine of the fact with the mean of each charge's precedents (Rocchio), raised
    to a power so that only near-best profiles count;
(d) precedents, learned: a one-vs-rest logistic regression over the precedents' bigrams (learned.py),
    fitted at build time: where (b) and (c) rank by resemblance, it learns what tells charges apart.
Signal (a) weighs more for a charge with few precedents (RARE_BOOST): its profile is thin, its article
text is what it has. Charges within MULTI_RATIO of the best are the prediction (a fact can name several
crimes) unless the model's probability doubts them; one the model is sure of is added. A predicted
charge cites the 刑法 articles most of its single-charge precedents cite (CAIL's relevant_articles:
"故意伤害罪" → 234, not every article DEFINED_BY names), or its DEFINED_BY articles when it has few
precedents. Built once per process from the graph; ranking touches no store and calls no language model.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from kg_route.charges.bm25 import CharBM25
from kg_route.charges.fact_checks import fact_problem
from kg_route.charges.learned import ChargeModel
from kgft.graph_store import GraphStore

# Tuned on the bench's dev split (bench/kg_charges.py: seed 7, 15% of the in-graph cases = 829, ranked
# against the other 85%), never on its held-out split: grids over the weights, k 5–40, power 2–8, the
# rare-charge boost, the query's IDF power, bigrams/trigrams and the ratio, for macro-F1 + exact-set
# accuracy. Dev, before → after: macro-F1 0.606 → 0.690, exact set 0.835 → 0.848, top-1 0.899 → 0.907,
# article F1 0.816 → 0.872 (precedents' articles). A lower ratio (0.8) buys macro-F1 with exact-set
# accuracy; a second "…罪" named in the fact as a signal did not help on dev.
# The learned signal (d), then grids over its weight 0–0.6 and the LEARNED_* gates: exact set 0.848 →
# 0.879, top-1 0.907 → 0.920, macro-F1 0.690 → 0.693, article F1 0.872 → 0.885. The model alone ranks
# worse than (a)–(c) on rare charges (dev macro-F1 0.41), so it is one signal among four, not the ranker;
# used only for the second-charge gates (weight 0) it gave exact set 0.865.
W_ARTICLES, W_NEAREST, W_PROFILE, W_LEARNED = 0.3, 0.3, 1.0, 0.4
NEAREST_K = 20
PROFILE_POWER = 3
MULTI_RATIO = 0.85  # a second charge is predicted when its score is at least this share of the best,
LEARNED_FLOOR = 0.2  # and the learned model gives it at least this (for charges it knows: …
LEARNED_MIN_CASES = 10  # … those with this many precedents); or when the model gives it this:
LEARNED_SURE = 0.9
RARE_BOOST, RARE_CASES = 0.5, 5  # the article signal weighs W_ARTICLES + RARE_BOOST·m/(m+n) for n cases
ARTICLE_SHARE = 0.5  # a predicted charge cites the articles ≥ this share of its precedents cite (0: off)
CASE_GRAMS = 2  # trigrams lost on dev (macro-F1 0.573 against 0.621 with bigrams)
QUERY_IDF_POWER = 2.0  # the profile query's bigrams weigh IDF²: dev macro-F1 0.621 → 0.684 (1.0 → 2.0)
ARTICLE_MIN_CASES = 3  # fewer precedents than this: the charge's DEFINED_BY articles
MAX_PREDICTED = 4
CANDIDATES = 5  # charges returned, the predicted ones first
ARTICLE_DOC_B = 0.3  # charge documents are short and alike in length: little length normalisation
NAME_REPEATS, ELEMENT_REPEATS = 3, 2  # a name's n-grams count more than one element phrase's
# Below these the fact resembles no charge ("今天天气很好…" scores 0.014 and 7.1; 99% of CAIL facts
# score above 0.099 and 15.9); set low so that short colloquial questions still get an answer.
MIN_PROFILE_COSINE = 0.03
MIN_ARTICLE_SCORE = 8.0  # without precedents: raw BM25 against the charge documents
READ_CHARS = 5_000  # facts are ranked on their first 5,000 characters (CAIL's median fact is 305)

_CHARGES = (
    "MATCH (c:Node) WHERE c.kind = 'Charge' "
    "RETURN c.id AS id, c.name AS name, c.source AS source, c.props AS props"
)
_DEFINED_BY = (
    "MATCH (c:Node)-[r:REL]->(a:Node) WHERE c.kind = 'Charge' AND r.type = 'DEFINED_BY' "
    "RETURN c.id AS charge, a.id AS id, a.text AS text, a.source AS source"
)
_CASES = "MATCH (c:Node) WHERE c.kind = 'Case' RETURN c.id AS id, c.text AS text"
_CASE_LINKS = (
    "MATCH (c:Node)-[r:REL]->(x:Node) WHERE c.kind = 'Case' AND r.type IN $types "
    "RETURN c.id AS id, r.type AS rel, x.id AS target, x.source AS source, x.text AS text"
)


@dataclass(frozen=True)
class ChargeArticle:
    id: str
    source: str  # "中华人民共和国刑法 第二百六十四条"
    text: str


@dataclass(frozen=True)
class ChargeHit:
    id: str  # the Charge node id
    name: str
    aliases: tuple[str, ...]
    elements: tuple[str, ...]
    source: str
    score: float  # weighted signals over the sum of the weights: 1.0 is best on every signal
    signals: dict[str, float]  # each signal scaled to its best, before weighting
    articles: tuple[ChargeArticle, ...]
    precedents: tuple[str, ...] = ()  # ids of the nearest cases that hold this charge
    predicted: bool = False


@dataclass(frozen=True)
class ChargeRanking:
    hits: list[ChargeHit]  # predicted first, then the next candidates
    articles: list[ChargeArticle]  # the predicted charges' articles, in order, each once
    retrieval_ms: float
    abstain_reason: str | None = None
    read_chars: int = 0
    diagnostics: dict[str, float] = field(default_factory=dict)

    @property
    def predicted(self) -> list[ChargeHit]:
        return [hit for hit in self.hits if hit.predicted]


@dataclass(frozen=True)
class _Charge:
    id: str
    name: str
    aliases: tuple[str, ...]
    elements: tuple[str, ...]
    source: str
    articles: tuple[ChargeArticle, ...]


class ChargeIndex:
    """Every charge and precedent of a graph, held in memory as BM25 and profile matrices."""

    def __init__(
        self,
        charges: Sequence[_Charge],
        cases: Sequence[tuple] = (),  # (case id, fact, charge ids[, cited ChargeArticles])
        *,
        use_precedents: bool = True,
    ):
        self.charges = list(charges)
        self._position = {charge.id: index for index, charge in enumerate(self.charges)}
        self._articles = CharBM25([_charge_document(charge) for charge in self.charges], b=ARTICLE_DOC_B)
        kept = [case for case in cases if any(cid in self._position for cid in case[2])]
        self.use_precedents = use_precedents and bool(kept)
        self.case_ids = [case[0] for case in kept]
        self._case_charges = [
            [self._position[cid] for cid in case[2] if cid in self._position] for case in kept
        ]
        held = np.bincount(
            [c for charged in self._case_charges for c in charged], minlength=len(self.charges)
        ).astype(np.float64)
        self._precedent_counts = held if self.use_precedents else np.zeros(len(self.charges))
        self._article_weights = W_ARTICLES + RARE_BOOST * RARE_CASES / (RARE_CASES + self._precedent_counts)
        self._cited = _cited_articles(self.charges, kept, self._case_charges) if self.use_precedents else {}
        if self.use_precedents:
            self._cases = CharBM25([case[1] for case in kept], n=CASE_GRAMS)
            self._profiles = _profiles(self._cases, self._case_charges, len(self.charges))
            self._model = ChargeModel(self._cases, self._case_charges, len(self.charges))

    @classmethod
    def from_store(
        cls, store: GraphStore, *, use_precedents: bool = True, exclude: frozenset[str] = frozenset()
    ) -> ChargeIndex:
        """Read charges, their articles and (when asked) every case with its charges and cited articles
        from the graph; cases in `exclude` are left out (the bench's dev split ranks against the rest)."""
        articles: dict[str, list[ChargeArticle]] = {}
        for row in store.read(_DEFINED_BY, {}):
            articles.setdefault(row["charge"], []).append(
                ChargeArticle(row["id"], row["source"] or "", row["text"] or "")
            )
        charges = []
        for row in sorted(store.read(_CHARGES, {}), key=lambda row: row["id"]):
            props = json.loads(row["props"] or "{}")
            order = {item["id"]: i for i, item in enumerate(props.get("articles", []))}
            cited = sorted(articles.get(row["id"], []), key=lambda article: order.get(article.id, len(order)))
            charges.append(
                _Charge(
                    row["id"],
                    row["name"],
                    tuple(props.get("aliases", ())),
                    tuple(props.get("elements", ())),
                    row["source"] or "",
                    tuple(cited),
                )
            )
        cases: list[tuple[str, str, list[str], list[ChargeArticle]]] = []
        if use_precedents and charges:
            charged: dict[str, list[str]] = {}
            cited: dict[str, list[ChargeArticle]] = {}
            for row in store.read(_CASE_LINKS, {"types": ["CHARGED_WITH", "CITES"]}):
                if row["rel"] == "CHARGED_WITH":
                    charged.setdefault(row["id"], []).append(row["target"])
                else:
                    article = ChargeArticle(row["target"], row["source"] or "", row["text"] or "")
                    cited.setdefault(row["id"], []).append(article)
            facts = sorted(store.read(_CASES, {}), key=lambda row: row["id"])
            cases = [
                (
                    row["id"],
                    row["text"] or "",
                    sorted(charged.get(row["id"], [])),
                    sorted(cited.get(row["id"], []), key=lambda article: article.id),
                )
                for row in facts
                if row["id"] not in exclude
            ]
        return cls(charges, cases, use_precedents=use_precedents)

    def __len__(self) -> int:
        return len(self.charges)

    def rank(self, fact: str) -> ChargeRanking:
        """The charges a fact description points at, or an abstention that says why there are none."""
        started = time.perf_counter()
        problem = fact_problem(fact)
        if problem is None and not self.charges:
            problem = "the graph holds no charges; run `kgft ingest charges` first"
        if problem is not None:
            return ChargeRanking([], [], _ms(started), abstain_reason=problem)
        text = fact.strip()[:READ_CHARS]
        article_raw = self._articles.scores(self._articles.columns(text))
        signals = {"articles": _scaled(article_raw)}
        total = self._article_weights * signals["articles"]
        weight_sum = W_ARTICLES + RARE_BOOST
        nearest_cases: list[list[int]] = [[] for _ in self.charges]
        probability = np.zeros(len(self.charges))
        diagnostics = {"best_article_bm25": round(float(article_raw.max(initial=0.0)), 3)}
        if self.use_precedents:
            columns, weights = self._cases.vector(text)
            similarity = self._cases.scores(columns)
            votes = self._nearest_votes(similarity, nearest_cases)
            plain, profile = _profile_cosines(self._profiles, self._cases, columns)
            signals["nearest"] = _scaled(votes)
            signals["profile"] = _scaled(profile) ** PROFILE_POWER
            probability = self._model.probabilities(columns, weights)
            signals["learned"] = _scaled(probability)
            total = (
                total
                + W_NEAREST * signals["nearest"]
                + W_PROFILE * signals["profile"]
                + W_LEARNED * signals["learned"]
            )
            weight_sum += W_NEAREST + W_PROFILE + W_LEARNED
            diagnostics["best_profile_cosine"] = round(float(plain.max(initial=0.0)), 4)
            diagnostics["best_learned_probability"] = round(float(probability.max(initial=0.0)), 4)
            if diagnostics["best_profile_cosine"] < MIN_PROFILE_COSINE:
                return self._nothing(started, diagnostics, "profile cosine", MIN_PROFILE_COSINE, len(text))
        elif diagnostics["best_article_bm25"] < MIN_ARTICLE_SCORE:
            return self._nothing(started, diagnostics, "article BM25", MIN_ARTICLE_SCORE, len(text))
        order = np.argsort(-total, kind="stable")[:CANDIDATES]
        chosen = self._predicted(total, probability, order)
        hits = []
        for rank, index in enumerate(order):
            charge = self.charges[index]
            hits.append(
                ChargeHit(
                    charge.id,
                    charge.name,
                    charge.aliases,
                    charge.elements,
                    charge.source,
                    round(float(total[index]) / weight_sum, 4),
                    {name: round(float(values[index]), 4) for name, values in signals.items()},
                    self._cited.get(int(index), charge.articles),
                    tuple(self.case_ids[case] for case in nearest_cases[index]),
                    predicted=bool(chosen[rank]),
                )
            )
        articles = list(
            {article.id: article for hit in hits if hit.predicted for article in hit.articles}.values()
        )
        return ChargeRanking(hits, articles, _ms(started), read_chars=len(text), diagnostics=diagnostics)

    def _predicted(self, total: np.ndarray, probability: np.ndarray, order: np.ndarray) -> np.ndarray:
        """Which of the ordered candidates are the prediction: the best; one near it in score unless the
        learned model doubts it (a charge with few precedents is exempt: the model barely knows it);
        one the model is sure of."""
        near = total[order] >= MULTI_RATIO * total[order[0]]
        trusted = self._precedent_counts[order] >= LEARNED_MIN_CASES
        doubted = trusted & (probability[order] < LEARNED_FLOOR)
        chosen = (near & ~doubted) | (probability[order] >= LEARNED_SURE)
        chosen[0] = True
        chosen[MAX_PREDICTED:] = False
        return chosen

    def _nearest_votes(self, similarity: np.ndarray, nearest_cases: list[list[int]]) -> np.ndarray:
        votes = np.zeros(len(self.charges))
        k = min(NEAREST_K, similarity.size)
        top = np.argpartition(-similarity, k - 1)[:k]
        best = float(similarity[top].max(initial=0.0))
        if best <= 0:
            return votes
        for case in top[np.argsort(-similarity[top])]:
            for charge in self._case_charges[case]:
                votes[charge] += similarity[case] / best
                nearest_cases[charge].append(int(case))
        return votes

    def _nothing(
        self, started: float, diagnostics: dict[str, float], signal: str, floor: float, read: int
    ) -> ChargeRanking:
        best = diagnostics["best_profile_cosine" if signal == "profile cosine" else "best_article_bm25"]
        reason = f"the facts match no charge (best {signal} {best:g}, below {floor:g})"
        return ChargeRanking(
            [], [], _ms(started), abstain_reason=reason, read_chars=read, diagnostics=diagnostics
        )


def _charge_document(charge: _Charge) -> str:
    stem = charge.name.removesuffix("罪")
    aliases = [alias.removesuffix("罪") for alias in charge.aliases]
    return " ".join([stem] * NAME_REPEATS + aliases + list(charge.elements) * ELEMENT_REPEATS)


def _cited_articles(
    charges: Sequence[_Charge], cases: Sequence[tuple], case_charges: list[list[int]]
) -> dict[int, tuple[ChargeArticle, ...]]:
    """Per charge with ARTICLE_MIN_CASES single-charge precedents: the articles at least ARTICLE_SHARE
    of them cite (CAIL's relevant_articles), in place of the DEFINED_BY ones; others keep theirs."""
    if ARTICLE_SHARE <= 0:
        return {}
    counts: dict[int, Counter] = {}
    held_by: Counter = Counter()
    found: dict[str, ChargeArticle] = {}
    for case, held in zip(cases, case_charges, strict=True):
        if len(held) != 1 or len(case) < 4:
            continue
        held_by[held[0]] += 1
        counts.setdefault(held[0], Counter()).update({article.id for article in case[3]})
        found.update({article.id: article for article in case[3]})
    cited = {}
    for index, counter in counts.items():
        if held_by[index] < ARTICLE_MIN_CASES:
            continue
        # CAIL numbers 133之一 as 133: a charge's own "N之一" article stands for the precedents' N
        own = {_article_key(article.id).split("之")[0]: article for article in charges[index].articles}
        kept = [
            own.get(_article_key(aid), found[aid])
            for aid, n in counter.most_common()
            if n >= ARTICLE_SHARE * held_by[index]
        ]
        if kept:
            cited[index] = tuple(dict.fromkeys(kept))
    return cited


def _article_key(article_id: str) -> str:
    """ "…:264" → "264", "…:133之一" → "133之一"."""
    return article_id.rsplit(":", 1)[-1]


def _profiles(cases: CharBM25, case_charges: list[list[int]], charges: int) -> sp.csc_matrix:
    """Per charge, the unit-length mean of its cases' unit-length BM25 rows."""
    rows = cases.weights.tocsr()
    lengths = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()) + 1e-12
    unit = sp.diags(1 / lengths) @ rows
    pairs = [(charge, case) for case, held in enumerate(case_charges) for charge in held]
    membership = sp.csr_matrix(
        (np.ones(len(pairs)), ([p[0] for p in pairs], [p[1] for p in pairs])), shape=(charges, rows.shape[0])
    )
    profiles = membership @ unit
    norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel()) + 1e-12
    return sp.csc_matrix(sp.diags(1 / norms) @ profiles)


def _profile_cosines(
    profiles: sp.csc_matrix, cases: CharBM25, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of the profiles with the query weighted by IDF (what MIN_PROFILE_COSINE reads) and by
    IDF ** QUERY_IDF_POWER (what ranks: rare bigrams such as 枪支, 发票 or 林木 tell the charges apart)."""
    if columns.size == 0:
        return np.zeros(profiles.shape[0]), np.zeros(profiles.shape[0])
    idf = cases.idf[columns]
    weights = np.stack([idf, idf**QUERY_IDF_POWER], axis=1)
    weights /= np.linalg.norm(weights, axis=0) + 1e-12
    both = np.asarray(profiles[:, columns] @ weights)
    return both[:, 0], both[:, 1]


def _scaled(values: np.ndarray) -> np.ndarray:
    best = float(values.max(initial=0.0))
    return values / best if best > 0 else np.zeros_like(values, dtype=np.float64)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
