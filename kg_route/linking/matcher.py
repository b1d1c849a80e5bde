"""Leftmost-longest dictionary matching of names in NFKC-normalised text, via one Aho-Corasick automaton.

One pass over the question finds every name among ~10^5 keys in microseconds; overlaps are then
resolved leftmost-longest so "中华人民共和国刑法修正案（九）" wins over "刑法" inside it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick

T = TypeVar("T")

MIN_KEY_CHARS = 2  # single characters (痣, 汞, 李 ...) are noise in running Chinese text

# CMeKG names that are everyday words or question words, measured, not guessed: names found in >= 10 of
# the 26,196 statute articles (legal text, where a medical entity is rare, so a hit means a common word:
# 工作 3,700, 行为 2,484, 活动 2,449, 以及 2,107 ... and brand-name fragments like 和安 in "和安全"), less
# the clinical terms kept after review (bench/kg_linking.py REVIEWED_CLINICAL_TERMS); plus question and
# predicate words among the top hits in BenTsao questions (出现 in 4,594 of 8,658, 伴有, 并发症, 男性 as a
# 就诊科室 ...). `python bench/kg_linking.py --noise` lists new candidates.
_GENERIC_NAMES_TEXT = (  # one paragraph, not a 248-line list literal
    "一级 三级 上网 下降 不利 不同 不清 不负责任 不适 不配合 严重 严重的 丧失 中医 中间 "
    "临床研究 书写 事故 二级 交通事故 产后 人体 人格 以及 休息 众生 伴有 位置 体内 体征 "
    "体格 体格检查 体检 体检发现 体重 修正 儿童 公路 关系 兴奋 冻结 减轻 出现 分布 分析 "
    "判断 剥离 功能 加快 加重 劳动 化石 医师 协调的 单一 反食 发病人群 变质 可移动 台湾 "
    "合并 向上 吸引 吸收 吸毒 和信 和安 和日 和解 哺乳 回避 因此 困难 固定 土壤 地区 "
    "地点 增长 复和 多发群体 大使 大小 太阳 夫妻 婚后 婚姻 学业 宗教 定位 实验室检查 "
    "对自己 导致 工作 常见 常见的 干扰 年龄 并发 并发症 幼儿 度和 开始 开放 引起 强中 "
    "强奸 强能 形态 形成 循环 快速 思想 性别 性别、年龄 恐怖 意外事故 意外伤害 意识 感觉 "
    "成人 成年人 手术后 扩大 技能 抗拒 报纸 担心 拖延 拼音 控制 改善 攻击 敏感 数量 "
    "整理 方向 时有 时间 智力 智能 暗示 有环 术后 核素 欺骗 此种 死亡 残疾 比赛 气候 "
    "氧化物 汽车 注射 注意 活动 济特 浓度 海外 消失 消除 混乱 混淆 火车 父母 特点 环境 "
    "现象 理解 生长 用于 用于中 电影 电梯 男性 疾病 病史 症状及体征 症状和体征 监视 矛盾 "
    "砂石 破坏 硬度 神经 种族 种类 程度 突发 立安 立生 结合 维持 缩小 缺乏 美术 老年 "
    "老龄 职业 聚集 能达 脆弱 腐蚀 致使 致残 航海 范围 药物 营养 虐待 虚构 融合 行为 "
    "行立 行车 补充 表演 被害 计划 计算 诉讼 诊断 语言 诱导 诽谤 谨慎 贮存 距离 跟踪 "
    "身份 较小 较轻的 过多 运动 远程 迷信 遗传因素 重复 重量 量少 金合 鉴别诊断 长期 "
    "阅读 随机 青少年 预防 饮食 高度"
)
GENERIC_NAMES = frozenset(_GENERIC_NAMES_TEXT.split())


class _FoldTable(dict[int, str]):
    """A str.translate table folding one character (NFKC, then lower-case), filled on first sight."""

    def __missing__(self, codepoint: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(codepoint)).lower()
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()


# Numbers, percentages, ages and doses that CMeKG lists as objects ("10", "6岁", "5mg", "38.5℃").
_MEASUREMENT = re.compile(r"[\d.,%~\-—℃]*(?:岁|个月|月|周|天|年|小时|次|mg|ml|g|kg)?(?:以上|以下|左右)?")


def normalize(text: str) -> tuple[str, Sequence[int]]:
    """NFKC + lower-case per character (full-width → ASCII), with each output character's index in `text`."""
    folded = text.translate(_FOLD)
    if len(folded) == len(text):  # no character expanded (folding never deletes one): indexes line up
        return folded, range(len(text))
    return folded, [index for index, char in enumerate(text) for _ in _FOLD[ord(char)]]


@dataclass(frozen=True)
class Match(Generic[T]):
    """A key found in normalised text: `start:end` index that text, `value` is what the key maps to."""

    key: str
    start: int
    end: int
    value: T


class NameMatcher(Generic[T]):
    """Finds keys in text; keys are normalised once here, so callers pass names as written.

    Stop names and measurements stay in the automaton as blockers: they take part in leftmost-longest
    and then link nothing, so "并发症" never shows its fragment "发症" when 发症 is a node of its own.
    """

    def __init__(self, keys: Mapping[str, T], *, stop_names: frozenset[str] = GENERIC_NAMES) -> None:
        self._automaton = ahocorasick.Automaton()
        self.size = 0
        stop = {normalize(name)[0] for name in stop_names}
        for key, value in keys.items():
            folded = normalize(key)[0]
            if len(folded) < MIN_KEY_CHARS or folded in stop:
                continue
            linked = not _MEASUREMENT.fullmatch(folded)
            self._automaton.add_word(
                folded, (folded, value, linked, _is_word(folded[0]) or _is_word(folded[-1]))
            )
            self.size += linked
        for folded in stop:
            self._automaton.add_word(
                folded, (folded, None, False, _is_word(folded[0]) or _is_word(folded[-1]))
            )
        if len(self._automaton):
            self._automaton.make_automaton()

    def find(self, normalized_text: str) -> list[Match[T]]:
        """Leftmost-longest non-overlapping matches in text already passed through `normalize`."""
        if not len(self._automaton):
            return []
        found = [
            (end + 1 - len(key), end + 1, key, value, linked)
            for end, (key, value, linked, latin_edge) in self._automaton.iter(normalized_text)
            if not latin_edge or _word_bounded(normalized_text, end + 1 - len(key), end + 1)
        ]
        found.sort(key=lambda hit: (hit[0], -hit[1]))
        chosen: list[Match[T]] = []
        covered_to = 0
        for start, end, key, value, linked in found:
            if start >= covered_to:
                if linked:
                    chosen.append(Match(key, start, end, value))
                covered_to = end
        return chosen


def _word_bounded(text: str, start: int, end: int) -> bool:
    """Latin or digit keys ("ATP", "5%") must not start or end inside a Latin word or a number."""
    before = start > 0 and _is_word(text[start - 1]) and _is_word(text[start])
    after = end < len(text) and _is_word(text[end]) and _is_word(text[end - 1])
    return not (before or after)


def _is_word(char: str) -> bool:
    return char.isascii() and char.isalnum()
