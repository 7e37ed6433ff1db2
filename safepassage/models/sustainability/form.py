"""The follow-up report's indicator fields, built from the indicator table.

The Prefect UI renders the report form from its JSON schema, and the mission portal and API
take the same fields: one whole-number field per indicator, titled by its question, bounded by
its scale, with each point's label in the description. Built from the table, so a new table
version changes the form without code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, create_model

from safepassage.models.sustainability.table import IndicatorTable, load_table


class IndicatorAnswers(BaseModel):
    """The base of the generated model: no other fields, each answered once."""

    model_config = ConfigDict(extra="forbid")

    def points(self) -> dict[str, int]:
        """Return each indicator's answer by key."""
        return {key: int(value) for key, value in self.model_dump().items()}


def indicator_model(table: IndicatorTable) -> type[IndicatorAnswers]:
    """Return the pydantic model of `table`'s indicators (all required)."""
    fields: dict[str, Any] = {
        i.key: (
            int,
            Field(
                ge=i.scale.min,
                le=i.scale.max,
                title=i.question,
                description=f"{dimension.title}: {i.scale.describe()}.",
            ),
        )
        for dimension in table.dimensions
        for i in dimension.indicators
    }
    model: type[IndicatorAnswers] = create_model(
        "SustainabilityIndicators",
        __base__=IndicatorAnswers,
        __doc__=f"The reintegration sustainability indicators (table {table.version}).",
        **fields,
    )
    return model


if TYPE_CHECKING:  # built at run time: to the type checker it is its base
    SustainabilityIndicators: TypeAlias = IndicatorAnswers
else:
    #: The indicators the current table asks, as the report form's nested model.
    SustainabilityIndicators = indicator_model(load_table())
