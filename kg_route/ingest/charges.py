"""The crime layer: Charge nodes DEFINED_BY 刑法 articles, and optionally precedent Case nodes.

(:Charge {name, aliases, elements})-[:DEFINED_BY]->(:Article), with the paragraphs (款) each charge
cites kept in the charge's props (the store's edges carry a type only). Cases, when given, become
(:Case {fact})-[:CHARGED_WITH]->(:Charge) and -[:CITES]->(:Article), after every case whose fact
overlaps an eval question is dropped (kgft.sources.cases.clean_cases) and listed. The statutes must be
in the graph first: charges link to the articles of the 刑法 version it holds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kg_route.ingest.charge_names import ChargeDefinition, charges_in_force
from kg_route.ingest.elements import element_phrases
from kg_route.ingest.runner import (
    BATCH_ROWS,
    IngestSourceError,
    IngestSummary,
    Plan,
    Source,
    ingest,
)
from kg_route.statute_reads import law_articles, laws
from kgft.contamination import ContaminationReport, default_eval_sets, load_eval_stems
from kgft.graph_facts import CURRENT_STATUS
from kgft.graph_store import EdgeRow, GraphStore, NodeRow
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources import SourceError
from kgft.sources.cases import CaseRecord, case_files, clean_cases, read_cases
from kgft.sources.charges import Provision, read_provisions
from kgft.sources.skipped_rows import SkippedRows

CRIMINAL_LAW = "中华人民共和国刑法"
DEFINED_BY, CHARGED_WITH, CITES = "DEFINED_BY", "CHARGED_WITH", "CITES"
CHARGE_PREFIX = "charge:"
CASE_NAME_CHARS = 24
# A label CAIL uses that no provision names ("[制造、贩卖、传播]淫秽物品") is defined by the articles at least
# this share of its cases cite (and always by the most cited one).
LABEL_ARTICLE_SHARE = 0.5


@dataclass(frozen=True)
class LawArticle:
    id: str
    text: str
    source: str  # "中华人民共和国刑法 第二百六十四条"


@dataclass(frozen=True)
class CriminalLaw:
    law_id: str  # the Law node id
    articles: dict[str, LawArticle]  # by id key: "264", "120之一"


@dataclass
class ChargeIngest:
    """What one charge ingestion did: the runner's summary, and which cases the eval sets took out."""

    summary: IngestSummary
    charges: int = 0
    cases_kept: int = 0
    contamination: ContaminationReport | None = None
    dropped_list: Path | None = None  # every dropped case id with the eval item it repeats


@dataclass
class _Reading:
    """What planning learnt besides the plan, for the report (planning runs inside the runner)."""

    charges: int = 0
    cases_kept: int = 0
    contamination: ContaminationReport | None = None
    pairs: list[dict[str, str]] = field(default_factory=list)


def criminal_law(store: GraphStore) -> CriminalLaw:
    """The 刑法 the graph holds: the version in force, else the latest, with its articles by key."""
    versions = laws(store, CRIMINAL_LAW)
    if not versions:
        raise IngestSourceError(
            f"the graph at {store.url} holds no {CRIMINAL_LAW}; run `kgft ingest legal` before the charges"
        )

    def preference(law: NodeRow) -> tuple[bool, str]:
        props = json.loads(law.props)
        return props.get("status") == CURRENT_STATUS, props.get("version_date") or ""

    law_id = max(versions, key=preference).id
    articles = {
        article.id.rsplit(":", 1)[1]: LawArticle(article.id, article.text, article.source)
        for article in law_articles(store, law_id)
    }
    return CriminalLaw(law_id, articles)


def charge_id(name: str) -> str:
    return f"{CHARGE_PREFIX}{name}"


def plan_charges(
    provisions: Sequence[Provision], law: CriminalLaw, cases: Sequence[CaseRecord], skips: SkippedRows
) -> Plan:
    """Charges in force (plus CAIL labels no provision names), then cases, then their edges."""
    charges = charges_in_force(list(provisions), skips)
    by_name = {alias: charge for charge in charges.values() for alias in (charge.name, *charge.aliases)}
    nodes: dict[str, NodeRow] = {}
    edges: dict[EdgeRow, None] = {}
    for charge in charges.values():
        _charge(nodes, edges, charge, law, skips, official=True)
    for label, cited in _unnamed_labels(cases, by_name).items():
        charge = ChargeDefinition(label, [], defined_in="CAIL2018 label")
        _charge(nodes, edges, charge, law, skips, official=False, article_keys=cited)
        by_name[label] = charge
    for case in cases:
        nodes[case.id] = NodeRow(
            case.id,
            "Case",
            case.fact[:CASE_NAME_CHARS],
            text=case.fact,
            source=f"CAIL2018 {case.where}",
            props=json.dumps(
                {"labels": list(case.charges), "articles": list(case.articles)}, ensure_ascii=False
            ),
        )
        for label in case.charges:
            edges[EdgeRow(case.id, CHARGED_WITH, charge_id(by_name[label].name))] = None
        for number in case.articles:
            article = law.articles.get(str(number))
            if article is not None:
                edges[EdgeRow(case.id, CITES, article.id)] = None
    rows_read = sum(len(provision.entries) for provision in provisions) + len(cases)
    return Plan(list(nodes.values()), list(edges), rows_read, skips)


def _charge(
    nodes: dict[str, NodeRow],
    edges: dict[EdgeRow, None],
    charge: ChargeDefinition,
    law: CriminalLaw,
    skips: SkippedRows,
    *,
    official: bool,
    article_keys: Sequence[str] = (),
) -> None:
    cites = [(cite.key, cite.paragraphs) for cite in charge.articles] or [(key, ()) for key in article_keys]
    linked, elements = [], []
    for key, paragraph_numbers in cites:
        article = law.articles.get(key)
        if article is None:
            skips.skip(
                charge.defined_in,
                f"{charge.name}: 第{key}条 is not among the graph's {CRIMINAL_LAW} articles",
            )
            continue
        linked.append((article, paragraph_numbers))
        elements += element_phrases(article.text, paragraph_numbers)
    node_id = charge_id(charge.name)
    elements = list(dict.fromkeys(elements))
    props = {
        "aliases": charge.aliases,
        "elements": elements,
        "articles": [{"id": article.id, "paragraphs": list(numbers)} for article, numbers in linked],
        "defined_in": charge.defined_in,
        "official": official,
    }
    cited = "、".join(article.source.removeprefix(f"{CRIMINAL_LAW} ") for article, _ in linked)
    nodes[node_id] = NodeRow(
        node_id,
        "Charge",
        charge.name,
        text="；".join(elements),
        source=f"罪名 {charge.name}" + (f"（{CRIMINAL_LAW}{cited}）" if cited else ""),
        props=json.dumps(props, ensure_ascii=False),
    )
    for article, _ in linked:
        edges[EdgeRow(node_id, DEFINED_BY, article.id)] = None


def _unnamed_labels(cases: Sequence[CaseRecord], known: dict[str, ChargeDefinition]) -> dict[str, list[str]]:
    """CAIL labels no provision names → the article keys that define them, from the cases' citations."""
    cited: dict[str, Counter[int]] = {}
    totals: Counter[str] = Counter()
    for case in cases:
        for label in case.charges:
            if label not in known:
                totals[label] += 1
                cited.setdefault(label, Counter()).update(case.articles)
    keys = {}
    for label, counts in cited.items():
        ranked = counts.most_common()
        common = [number for number, count in ranked if count >= LABEL_ARTICLE_SHARE * totals[label]]
        keys[label] = [str(number) for number in common or [number for number, _ in ranked[:1]]]
    return keys


def ingest_charges(
    store: GraphStore,
    charges_dir: Path,
    cases_source: Path | None,
    settings: Settings,
    prices: PriceBook,
    *,
    eval_sets: Sequence[Path] | None = None,
    progress: bool = True,
    batch_rows: int = BATCH_ROWS,
) -> ChargeIngest:
    """Charges from the provisions in `charges_dir`; with `cases_source`, precedent cases cleaned against
    `eval_sets` (default: the legal benchmarks in the shared data folder)."""
    try:
        provision_files = sorted(path for path in charges_dir.glob("*.md")) if charges_dir.is_dir() else []
        files = case_files(cases_source) if cases_source is not None else []
    except SourceError as exc:
        raise IngestSourceError(str(exc)) from exc
    checked_sets = (
        [] if cases_source is None else list(default_eval_sets("legal") if eval_sets is None else eval_sets)
    )
    stems = [stem for path in checked_sets for stem in load_eval_stems(path)]
    law = criminal_law(store)
    reading = _Reading()

    def make_plan() -> Plan:
        try:
            provisions = read_provisions(charges_dir)
        except SourceError as exc:
            raise IngestSourceError(str(exc)) from exc
        skips = SkippedRows()
        cases: list[CaseRecord] = []
        case_rows = 0
        if files:
            read = read_cases(files)
            case_rows = read.rows_read
            skips.absorb(read)
            clean = clean_cases(read.cases, stems, [str(path) for path in checked_sets])
            cases, reading.contamination, reading.cases_kept = clean.kept, clean.report, len(clean.kept)
        plan = plan_charges(provisions, law, cases, skips)
        reading.charges = sum(1 for node in plan.nodes if node.kind == "Charge")
        entries = sum(len(provision.entries) for provision in provisions)
        return Plan(plan.nodes, plan.edges, entries + case_rows, skips)  # dropped cases were read too

    label = str(charges_dir) + (f" + cases {cases_source}" if cases_source is not None else "")
    source = Source("charges", label, [*provision_files, *files, *checked_sets])
    summary = ingest(store, source, make_plan, settings, prices, progress=progress, batch_rows=batch_rows)
    result = ChargeIngest(summary, reading.charges, reading.cases_kept, reading.contamination)
    if reading.contamination is not None:
        result.dropped_list = _write_dropped(
            settings.home / "ingest" / "charges-cases-dropped.json", reading.contamination
        )
    return result


def _write_dropped(path: Path, report: ContaminationReport) -> Path:
    """Every dropped case id (the report keeps the first pairs with the eval item and shared text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    listing = {
        "eval_sets": report.eval_sets,
        "checked": report.checked,
        "dropped": report.contaminated_ids,
        "first_pairs": [
            {"case": pair.train_id, "eval_item": pair.eval_id, "shared": pair.shared} for pair in report.pairs
        ],
    }
    path.write_text(json.dumps(listing, ensure_ascii=False, indent=1), "utf-8")
    return path
