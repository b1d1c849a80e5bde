"""CMeKG triples (subject_type, subject, predicate, object) → `cmekg:{name}` nodes and predicate-typed edges.

Which predicates link entities and which only describe their subject was decided from the real
distribution (469 predicates, 967,409 triples): a predicate is a literal when its values are
identifiers, other-language names, measurements, flags or sentences that a question would never
name as a thing of its own (ICD10 "A67.9", 用法用量 "口服，一次3片", 科 "豆科"). Literal values become
props of the subject (`{"ICD10": ["A67.9"]}`); every other predicate is an edge to an object node.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from kg_route.ingest.runner import BATCH_ROWS, IngestSourceError, IngestSummary, Plan, Source, ingest
from kgft.graph_store import EdgeRow, GraphStore, NodeRow
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources import SourceError
from kgft.sources.cmekg import HEADER, triple_files, triple_rows
from kgft.sources.skipped_rows import SkippedRows

SOURCE_NAME = "CMeKG"
SUBJECT_KINDS = {"disease": "Disease", "drug": "Drug", "other": "Other"}
UNKNOWN_KIND = "Entity"

# The kind an object gets from the relation that names it, when it is not a subject itself.
_KIND_PREDICATES = {
    "Symptom": (
        "常见症状", "相关症状", "临床症状及体征", "主要症状", "术后症状", "不良反应", "用药后不良反应",
        "药物治疗后症状", "侵及周围组织转移的症状", "侵及周围组织或转移的症状",
    ),
    "Disease": (
        "并发症", "相关疾病", "适应症", "适应证", "主治", "主治病症", "功能主治", "主要适用症", "主要适用",
        "鉴别诊断", "上位关系", "下位关系", "病理分型", "药物引起的并发症", "手术引起的并发症",
        "治疗引起的并发症", "中医病名", "禁忌证",
    ),
    "Drug": ("药物治疗", "相关药物", "商品名", "通用名", "药品名称", "药物相互作用", "主要用药"),
    "Ingredient": ("成份", "组成"),
    "Department": ("就诊科室", "所属科室"),
    "Examination": (
        "检查", "实验室检查", "影像学检查", "辅助检查", "组织学检查", "内窥镜检查", "筛查", "其他检查",
        "术前准备_必检项目", "住院必检项目", "辅助检查（属性描述：入院必检）",
    ),
    "Treatment": ("治疗", "辅助治疗", "手术治疗", "化疗", "放射治疗", "放化疗治疗", "预防"),
    "Cause": ("常见病因", "病因", "主要病因", "高危因素", "遗传因素", "诱发因素", "病史"),
    "BodyPart": ("常见发病部位", "发病部位", "转移部位", "外侵部位"),
    "Population": ("多发群体", "发病人群"),
    "Category": ("分类", "用途分类", "所属分类", "功效分类", "专科分类", "疾病分类", "类别"),
    "Effect": ("功效", "功用", "功能", "作用"),
}  # fmt: skip
OBJECT_KINDS = {predicate: kind for kind, predicates in _KIND_PREDICATES.items() for predicate in predicates}

LITERAL_PREDICATES = frozenset(
    (
        # other names: the subject's own, not an entity besides it
        "别称", "又称", "同义词", "其他名称", "中文名", "中文学名", "学名", "二名法", "拉丁学名",
        "英文名", "英文名称", "英文别名", "英文别称", "外文名", "英文", "汉语拼音", "拼音",
        # identifiers and formulas
        "ICD10", "ATC编码", "批准文号", "CAS号", "执行标准", "化学式", "分子式", "分子量",
        # regulatory flags
        "OTC类型", "药品类型", "药品监管分级", "特殊药品", "是否处方药", "是否处方", "是否纳入医保",
        "是否进入医保", "运动员慎用",
        # package-insert text
        "用法用量", "用量", "服药方法", "服药时间", "注意事项", "警示语", "禁忌", "主要用药禁忌",
        "规格", "剂型", "有效期", "贮藏", "贮藏方式", "性状", "制法",
        # materia medica and mineral attributes
        "性味", "性味归经", "味", "性", "毒性", "入药部位", "采收时间", "采集时间", "采收季节", "采收",
        "采集加工", "分布区域", "分布", "产地", "出处", "主要配伍",
        "颜色", "光泽", "透明度", "晶系", "条痕", "硬度", "比重", "解离程度",
        # taxonomic ranks
        "界", "亚界", "门", "亚门", "总门", "纲", "亚纲", "超目", "目", "亚目", "科", "亚科", "族",
        "亚族", "属", "亚属", "种", "亚种",
        # disease facts phrased as sentences or grades
        "传染性", "传播途径", "发病性别倾向", "多发地区", "预后状况", "阶段", "疾病分期", "转移方式",
        # clinical-pathway criteria
        "标准住院时间", "出院标准", "进入路径标准", "治疗方案", "选择治疗方案的依据",
    )
)  # fmt: skip
# Clinical-pathway fields (诊断依据_头颅CT, 手术_麻醉方式, ...): ~280 rare predicates of criteria text.
LITERAL_PREFIXES = ("诊断依据_", "手术_", "术后住院_", "术前准备_")

# Objects were cut from lists, leaving "排尿困难等", "；多库脂钠", "\xa0尿失禁", "苯巴比妥15mg\"".
_SEPARATORS = "，,、；;。.：:！!？?…"
_PAIRS = {"（": "）", "(": ")", "《": "》", "［": "］", "[": "]", "【": "】", "“": "”", "‘": "’", "「": "」"}
_CLOSERS = {close: open_ for open_, close in _PAIRS.items()}
_STRAIGHT_QUOTES = "\"'"
_ETC = "等"
_WORDS_ENDING_IN_ETC = ("中等", "均等", "同等", "平等", "相等", "对等", "初等", "优等", "劣等", "次等")


def normalize_name(raw: str) -> str:
    """The entity a CMeKG value names: no list debris (trailing 等/等等, stray separators, unpaired
    brackets or quotes, whitespace) around it; balanced brackets such as "狗肾（酒制）" stay."""
    name = raw
    while True:
        before = name
        name = name.strip().strip(_SEPARATORS)
        if name.endswith(_ETC) and not name.endswith(_WORDS_ENDING_IN_ETC):
            name = name[: -len(_ETC)]
        name = _strip_unpaired(name)
        if name == before:
            return name


def _strip_unpaired(name: str) -> str:
    if name and _unpaired(name[0], name, _PAIRS):
        return name[1:]
    if name and _unpaired(name[-1], name, _CLOSERS):
        return name[:-1]
    return name


def _unpaired(mark: str, name: str, partners: dict[str, str]) -> bool:
    if mark in _STRAIGHT_QUOTES:
        return name.count(mark) % 2 == 1
    return mark in partners and partners[mark] not in name


def predicate_role(predicate: str) -> str | None:
    """The object kind an entity predicate implies ("Entity" when unlisted), or None for a literal."""
    if predicate in OBJECT_KINDS:
        return OBJECT_KINDS[predicate]
    if predicate in LITERAL_PREDICATES or predicate.startswith(LITERAL_PREFIXES):
        return None
    return UNKNOWN_KIND


def node_id(name: str) -> str:
    return f"cmekg:{name}"


def _problem(fields: list[str]) -> str | None:
    """Why a row cannot be a triple, or None when it can."""
    if len(fields) != len(HEADER):
        return f"expected {len(HEADER)} tab-separated columns, found {len(fields)}"
    subject_type, subject, predicate, value = fields
    if subject_type not in SUBJECT_KINDS:
        return f"unknown subject_type {subject_type!r}"
    if not (subject.strip() and predicate.strip() and value.strip()):
        return "empty subject, predicate or object"
    return None


class _Graph:
    """Nodes, props and edges collected over all triples; a node's props are complete only at the end."""

    def __init__(self) -> None:
        self.subject_kinds: dict[str, str] = {}
        self.object_kinds: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.literals: defaultdict[str, dict[str, list[str]]] = defaultdict(dict)
        self.raw: defaultdict[str, list[str]] = defaultdict(list)
        self.edges: dict[EdgeRow, None] = {}
        self._names: dict[str, str] = {}  # raw → normalised: ~150k distinct values in ~1.9M uses

    def add(self, subject_type: str, subject_raw: str, predicate: str, value: str) -> str | None:
        """Take in one well-formed triple, or say why it names nothing."""
        subject = self._name(subject_raw)
        kind = predicate_role(predicate)
        target = value.strip() if kind is None else self._name(value)
        if not subject or not target:
            return f"{'object' if subject else 'subject'} is only list punctuation"
        self._spelled(subject, subject_raw)
        self.subject_kinds.setdefault(subject, SUBJECT_KINDS[subject_type])
        if kind is None:
            values = self.literals[subject].setdefault(predicate, [])
            if target not in values:
                values.append(target)
        else:
            self._spelled(target, value)
            self.object_kinds[target][kind] += 1
            self.edges[EdgeRow(node_id(subject), predicate, node_id(target))] = None
        return None

    def _name(self, raw: str) -> str:
        name = self._names.get(raw)
        if name is None:
            name = self._names[raw] = normalize_name(raw)
        return name

    def _spelled(self, name: str, raw: str) -> None:
        if name != raw and raw not in self.raw[name]:
            self.raw[name].append(raw)

    def nodes(self) -> list[NodeRow]:
        kinds = {name: counts.most_common(1)[0][0] for name, counts in self.object_kinds.items()}
        kinds |= self.subject_kinds  # a subject's own type beats what any relation implies
        rows = []
        for name, kind in kinds.items():
            props: dict[str, list[str]] = dict(self.literals.get(name, {}))
            if name in self.raw:
                props["raw"] = self.raw[name]
            rows.append(NodeRow(node_id(name), kind, name, source=SOURCE_NAME, props=_json(props)))
        return rows


def _json(props: dict[str, list[str]]) -> str:
    return json.dumps(props, ensure_ascii=False) if props else "{}"


def plan_medical(files: list[Path]) -> Plan:
    skips = SkippedRows()
    graph = _Graph()
    rows_read = 0
    for where, fields in triple_rows(files):
        rows_read += 1
        problem = _problem(fields) or graph.add(*fields)
        if problem is not None:
            skips.skip(where, problem)
    return Plan(graph.nodes(), list(graph.edges), rows_read, skips)


def ingest_medical(
    store: GraphStore,
    source: Path,
    settings: Settings,
    prices: PriceBook,
    progress: bool = True,
    batch_rows: int = BATCH_ROWS,
) -> IngestSummary:
    """Build the CMeKG graph from a folder of triple parts or one .tsv/.tsv.gz file."""
    try:
        files = triple_files(source)
    except SourceError as exc:
        raise IngestSourceError(str(exc)) from exc
    return ingest(
        store,
        Source("medical", str(source), files),
        lambda: plan_medical(files),
        settings,
        prices,
        progress=progress,
        batch_rows=batch_rows,
    )
