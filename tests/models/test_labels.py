"""The one table of labels (issue 29): every code an official can meet has a Chinese name.

A code missing from the table fails here, not on a page. Each vocabulary is read from where
the code is defined (the source contract, the criteria engine, the watch list, the matcher…).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable, Mapping

import pytest

from features import schemas
from features.match_config import METHODS
from models import labels, watchlist
from models.criteria import CRITERIA, MODES, TIERS, VERDICTS
from models.watchlist_config import GROUNDS, WATCHED_TITLES

# vocabulary → (every code it holds, where it is defined; its table in models.labels)
SOURCES: dict[str, tuple[Iterable[str], Mapping[str, str]]] = {
    "tier": (TIERS, labels.TIER_LABELS),
    "title": ([*schemas.TITLES, *schemas.APPLICATION_TITLES, *WATCHED_TITLES], labels.TITLE_LABELS),
    "criterion": ([c for c in CRITERIA if c != "outcome"], labels.CRITERION_LABELS),
    "verdict": (VERDICTS[:3], labels.VERDICT_LABELS),
    "outcome": (VERDICTS[3:], labels.OUTCOME_LABELS),
    "mode": (MODES, labels.MODE_LABELS),
    "last_outcome": (schemas.APPLICATION_OUTCOMES, labels.LAST_OUTCOME_LABELS),
    "ground": (
        [*GROUNDS, *watchlist.GROUND_TABLES, *watchlist.CRITERION_GROUNDS.values()],
        labels.GROUND_LABELS,
    ),
    "action": (["monitor", "revoke", "ministry", "hand_over"], labels.ACTION_LABELS),
    "boolean": (["true", "false"], labels.BOOLEAN_LABELS),
    "table": (schemas.SCHEMAS, labels.TABLE_LABELS),
    "mention_source": (schemas.MENTION_COLUMNS, labels.MENTION_SOURCE_LABELS),
    "match_method": (METHODS, labels.MATCH_METHOD_LABELS),
    "task": (["province"], labels.TASK_LABELS),  # flows.discovery's one task per province
    "model_version": (["none"], labels.MODEL_VERSION_LABELS),  # flows.discovery, no champion
    "status": (schemas.FIRM_STATUS, labels.STATUS_LABELS),
    "event": (schemas.CREDIT_EVENT_TYPES, labels.EVENT_LABELS),
    "revoke_reason": (schemas.REVOKE_REASONS, labels.REASON_LABELS),
    "category": (schemas.NODE_CATEGORIES, labels.CATEGORY_LABELS),
    "catalogue": (schemas.CATALOGUE_CLASSES, labels.CATALOGUE_LABELS),
    "change": (schemas.MAJOR_CHANGE_TYPES, labels.CHANGE_LABELS),
    "cert_status": (schemas.CERT_STATUS, labels.CERT_STATUS_LABELS),
    "ip_type": (schemas.IP_TYPES, labels.IP_TYPE_LABELS),
    "ip_status": (schemas.IP_STATUS, labels.IP_STATUS_LABELS),
    "level": ([*schemas.AWARD_LEVELS, *schemas.TALENT_LEVELS], labels.LEVEL_LABELS),
    "institution": (schemas.INSTITUTION_KINDS, labels.INSTITUTION_LABELS),
    "market_scope": (schemas.MARKET_SCOPES, labels.MARKET_SCOPE_LABELS),
}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_every_table_of_labels_is_checked_against_its_vocabulary() -> None:
    assert set(SOURCES) == set(labels.VOCABULARIES)
    for name, (_, table) in SOURCES.items():
        assert labels.VOCABULARIES[name] is table, name


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_code_has_a_chinese_name(name: str) -> None:
    codes, table = SOURCES[name]
    missing = sorted(set(codes) - set(table))
    assert missing == [], f"{name}: no label for {missing}"
    for code, label in table.items():
        assert CHINESE.search(label), f"{name}: {code} → {label!r} is not Chinese"
        assert code not in label, f"{name}: the label of {code} names the code"


def test_the_watch_list_actions_are_the_tables_names() -> None:
    actions = {watchlist.MONITOR, watchlist.REVOKE, watchlist.MINISTRY, watchlist.HAND_OVER}
    assert actions == set(labels.ACTION_LABELS.values())


def test_a_criterion_is_named_with_its_article_and_its_id_in_brackets() -> None:
    assert labels.CRITERION_LABELS["a1_1_niche_years"] == "细分市场年限（附件1（一））"
    assert labels.CRITERION_LABELS["art20_ban"] == "取消认定后禁止申报（第二十条）"
    assert (
        labels.criterion_text("a2_6_domain", "主导产品属于所列领域")
        == "产业链关键环节领域（附件2（六））［a2_6_domain］：主导产品属于所列领域"
    )
    assert labels.criterion_names(["a1_3_rd", "a1_4_ip"]) == (
        "研发费用（附件1（三））、I类知识产权（附件1（四））"
    )


def test_a_cell_of_several_criteria_splits_back_into_one_text_each() -> None:
    first = labels.criterion_text("a1_3_rd", "2024年研发费用 80万元；2025年 90万元")
    second = labels.criterion_text("a1_5_market", "缺少市场数据")
    assert labels.criterion_items(f"{first}；{second}") == [first, second]
    assert labels.criterion_items("") == [] and labels.criterion_items(None) == []


def test_a_watch_list_basis_reads_as_a_criterion_or_a_dated_change() -> None:
    assert labels.basis_text("a1_3_rd") == "研发费用（附件1（三））［a1_3_rd］"
    assert labels.basis_text("merger@2026-01-05") == "合并（2026-01-05）"
    assert labels.basis_text("") == "" and labels.basis_text(None) == ""


def test_an_unknown_code_shows_as_itself_and_a_missing_value_as_nothing() -> None:
    assert labels.label(labels.TIER_LABELS, "little_giant") == "专精特新“小巨人”企业"
    assert labels.label(labels.TIER_LABELS, "new_tier") == "new_tier"
    assert labels.label(labels.TIER_LABELS, None) == labels.label(labels.TIER_LABELS, float("nan"))
    assert labels.label(labels.TIER_LABELS, None) == ""


def test_the_table_is_importable_without_scikit_learn_or_pandas() -> None:
    # the service reads it at start-up
    code = "import sys, models.labels; print(sorted({'sklearn', 'pandas'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_a_mentions_row_reads_with_column_names_and_named_values() -> None:
    # every column the review page can show of a name-bearing table has a name
    tables = schemas.MENTION_COLUMNS
    shown = {c for t in tables for c in schemas.SCHEMAS[t].columns if not c.endswith("_code")}
    assert shown - set(labels.MENTION_COLUMN_LABELS) == set()
    text = "investor_name: 某基金；investor_qualified: False；level: national；extra: x"
    expected = "投资方：某基金；合格投资机构：否；级别：国家级；［extra］：x"
    assert labels.context_text(text) == expected
