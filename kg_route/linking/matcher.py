"""Leftmost-longest dictionary matching of names in NFKC-normalised text, via one Aho-Corasick automaton.

One pass over the question finds every name among ~10^5 keys in microseconds; overlaps are then
resolved leftmost-longest so "中华人民共和国刑法修正案（九）" wins over "刑法" inside it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick

T = TypeVar("T")

MIN_KEY_CHARS = 2  # single characters (痣, 汞, 李 ...) are noise in running Chinese text

# CMeKG names that are everyday words or question words, measured, not guessed: names found in >= 10 of
# the 26,196 statute articles (legal text, where a medical entity is rare, so a hit means a common word:
# 工作 3,700, 行为 2,484, 活动 2,449 ... and brand-name fragments like 和安 in "和安全"), less the clinical
# terms kept after review (bench/kg_linking.py REVIEWED_CLINICAL_TERMS); plus CMeKG objects that are
# predicate or question words (并发症, 多发群体, 男性 as a 就诊科室 ...) seen among the top hits in BenTsao
# questions. `python bench/kg_linking.py --noise` lists new candidates.
GENERIC_NAMES = frozenset(
    "一级 三级 上网 下降 不同 不清 不负责任 不适 丧失 中医 中间 书写 事故 二级 交通事故 "
    "产后 人格 休息 众生 位置 体格检查 体检 体检发现 修正 儿童 公路 关系 兴奋 冻结 减轻 "
    "分析 判断 加快 加重 劳动 医师 协调的 单一 反食 发病人群 变质 可移动 向上 吸收 吸毒 "
    "和信 和安 和日 和解 回避 因此 困难 固定 土壤 地区 地点 增长 复和 多发群体 大小 "
    "夫妻 婚后 婚姻 学业 宗教 实验室检查 对自己 工作 常见的 年龄 并发症 幼儿 度和 开始 "
    "强能 形态 形成 循环 快速 思想 性别 性别、年龄 恐怖 意外事故 意识 感觉 成人 成年人 "
    "扩大 技能 抗拒 报纸 拖延 拼音 攻击 敏感 数量 方向 时间 智力 智能 暗示 有环 核素 "
    "欺骗 此种 残疾 比赛 气候 汽车 注射 注意 活动 济特 浓度 海外 消失 混乱 火车 父母 "
    "特点 环境 理解 电影 电梯 男性 疾病 病史 症状及体征 症状和体征 监视 矛盾 砂石 破坏 "
    "硬度 种类 程度 突发 立安 立生 结合 缩小 缺乏 美术 老年 老龄 职业 能达 脆弱 腐蚀 "
    "致残 航海 范围 药物 营养 虐待 虚构 融合 行为 行立 行车 表演 被害 计划 计算 诉讼 "
    "语言 诽谤 谨慎 贮存 距离 跟踪 身份 较轻的 运动 远程 迷信 遗传因素 重复 重量 量少 "
    "金合 长期 阅读 青少年 饮食 高度".split()
)


def normalize(text: str) -> tuple[str, list[int]]:
    """NFKC + lower-case, with the original index of every normalised character (full-width → ASCII)."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).lower() if ord(char) > 127 else char.lower()
        chars.append(folded)
        origin.extend([index] * len(folded))
    return "".join(chars), origin


@dataclass(frozen=True)
class Match(Generic[T]):
    """A key found in normalised text: `start:end` index that text, `value` is what the key maps to."""

    key: str
    start: int
    end: int
    value: T


class NameMatcher(Generic[T]):
    """Finds keys in text; keys are normalised once here, so callers pass names as written."""

    def __init__(self, keys: Mapping[str, T], *, stop_names: frozenset[str] = GENERIC_NAMES) -> None:
        self._automaton = ahocorasick.Automaton()
        stop = {normalize(name)[0] for name in stop_names}
        for key, value in keys.items():
            folded = normalize(key)[0]
            if len(folded) >= MIN_KEY_CHARS and folded not in stop:
                self._automaton.add_word(folded, (folded, value))
        self.size = len(self._automaton)
        if self.size:
            self._automaton.make_automaton()

    def find(self, normalized_text: str) -> list[Match[T]]:
        """Leftmost-longest non-overlapping matches in text already passed through `normalize`."""
        if not self.size:
            return []
        found = [
            (end + 1 - len(key), end + 1, key, value)
            for end, (key, value) in self._automaton.iter(normalized_text)
            if _word_bounded(normalized_text, end + 1 - len(key), end + 1)
        ]
        found.sort(key=lambda hit: (hit[0], -hit[1]))
        chosen: list[Match[T]] = []
        covered_to = 0
        for start, end, key, value in found:
            if start >= covered_to:
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
