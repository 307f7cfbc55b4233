"""A pySigma backend writing one Athena (Trino) boolean expression per Sigma rule, for a detection's WHERE.

Fields arrive already mapped to SQL expressions by the source's pipeline (mamori.dev.sigma.cloudtrail), so
this class only decides how each value matches, with Sigma's semantics kept on both engines mamori runs:
- strings match case-insensitively (Sigma's default): `lower(f) = 'v'`; `|cased` keeps case: `f = 'V'`;
- wildcards (`*`, `?`, and what `|contains`/`|startswith`/`|endswith` add) become LIKE with `%`/`_`, and a
  literal `%`, `_` or `!` in the value is escaped with `ESCAPE '!'` (a plain value is never a pattern);
- numbers and booleans compare as the text the lake stores (CloudTrail's scalars are strings there);
- `|re` is regexp_like, case-sensitive as in Sigma; `|exists` and `null` test NULL.
Every value is written as a string literal by mamori.search_literals.sql_string (quotes doubled, control
characters refused): a rule's value never becomes SQL. Anything else (regex flags, CIDR, numeric comparison,
field references, keywords, placeholders, correlations) raises SigmaFeatureNotSupportedByBackendError with
a one-line reason: a rule is converted whole or refused, never converted with a part dropped.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from mamori.search_literals import sql_string

# Not a backslash: Trino and DuckDB read '\\' as one backslash, but sqlfluff's athena lexer (Hive strings) reads a
# backslash as an escape and cannot lex `ESCAPE '\\'`; a rule mamori writes must pass `make lint`.
LIKE_ESCAPE = "!"


def _refuse(what: str) -> SigmaFeatureNotSupportedByBackendError:
    return SigmaFeatureNotSupportedByBackendError(f"not supported: {what}")


def like_pattern(value: SigmaString) -> str:
    """The LIKE pattern of a Sigma string: `*` → `%`, `?` → `_`, literal `%`, `_` and `!` escaped."""
    out = []
    for part in value.s:
        if part is SpecialChars.WILDCARD_MULTI:
            out.append("%")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append("_")
        elif isinstance(part, str):
            out.append("".join(LIKE_ESCAPE + c if c in "%_" + LIKE_ESCAPE else c for c in part))
        else:
            raise _refuse(f"placeholder %{getattr(part, 'name', part)}%")
    return "".join(out)


def plain_text(value: SigmaString) -> str:
    """A Sigma string without wildcards as the text it stands for."""
    if not all(isinstance(p, str) for p in value.s):
        raise _refuse("placeholders in values")
    return "".join(str(p) for p in value.s)


class AthenaBackend(TextQueryBackend):
    """Sigma detections → an Athena WHERE expression over already-mapped columns."""

    name: ClassVar[str] = "mamori Athena"
    formats: ClassVar[dict[str, str]] = {"default": "an Athena boolean expression"}
    requires_pipeline: ClassVar[bool] = True

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"
    # (S105: these are SQL tokens, not passwords)
    token_separator: str = " "  # noqa: S105
    or_token: ClassVar[str] = "OR"  # noqa: S105
    and_token: ClassVar[str] = "AND"  # noqa: S105
    not_token: ClassVar[str] = "NOT"  # noqa: S105
    eq_token: ClassVar[str] = " = "  # noqa: S105
    field_quote: ClassVar[str | None] = None  # fields are SQL expressions the pipeline wrote
    str_quote: ClassVar[str] = "'"
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    field_exists_expression: ClassVar[str] = "{field} IS NOT NULL"
    field_not_exists_expression: ClassVar[str] = "{field} IS NULL"

    # -- NOT, two-valued ----------------------------------------------------------------------------------
    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        """`NOT coalesce(x, FALSE)`: in Sigma a selection on an absent field does not match, so `not` of it
        does; in SQL `NOT (NULL LIKE 'x%')` is NULL and the row is lost (an IAM user has no sessionIssuer,
        so `not filter_role` would silently drop every IAM user)."""
        arg = cond.args[0]
        inner = self.convert_condition(arg, state)
        if inner is None:
            return None
        return f"NOT coalesce({inner}, FALSE)"

    # -- strings -----------------------------------------------------------------------------------------
    def _string_match(self, field: str, value: SigmaString, cased: bool) -> str:
        if value.contains_special():
            pattern = like_pattern(value)
            subject, pattern = (field, pattern) if cased else (f"lower({field})", pattern.lower())
            return f"{subject} LIKE {sql_string(pattern)} ESCAPE {sql_string(LIKE_ESCAPE)}"
        text = plain_text(value)
        return f"{field} = {sql_string(text)}" if cased else f"lower({field}) = {sql_string(text.lower())}"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaString)
        return self._string_match(cond.field, cond.value, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaCasedString)
        return self._string_match(cond.field, cond.value, cased=True)

    # -- other scalars -----------------------------------------------------------------------------------
    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaNumber)
        return f"{cond.field} = {sql_string(str(cond.value.number))}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaBool)
        return f"lower({cond.field}) = {sql_string('true' if cond.value.boolean else 'false')}"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        if value.flags:
            flags = ", ".join(sorted(f.name.lower() for f in value.flags))
            raise _refuse(f"regular expression flags ({flags})")
        return f"regexp_like({cond.field}, {sql_string(plain_text(value.regexp))})"

    # -- refused, each with its reason -------------------------------------------------------------------
    def convert_condition_field_eq_val_cidr(self, cond: Any, state: ConversionState) -> Any:
        raise _refuse("the cidr modifier")

    def convert_condition_field_compare_op_val(self, cond: Any, state: ConversionState) -> Any:
        raise _refuse("numeric comparison (lt/lte/gt/gte)")

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> Any:
        raise _refuse("the fieldref modifier")

    def convert_condition_field_eq_val_timestamp_part(self, cond: Any, state: ConversionState) -> Any:
        raise _refuse("timestamp part modifiers (minute, hour, day, ...)")

    def convert_condition_field_eq_query_expr(self, cond: Any, state: ConversionState) -> Any:
        raise _refuse("query expressions")

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        raise _refuse("keyword search (a value with no field)")

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        raise _refuse("keyword search (a value with no field)")

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        raise _refuse("keyword search (a value with no field)")

    def convert_correlation_rule(self, rule: Any, *args: Any, **kwargs: Any) -> Any:
        raise _refuse(f"correlation rules ({getattr(rule, 'type', None) and rule.type.name.lower()})")
