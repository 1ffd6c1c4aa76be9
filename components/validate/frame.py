"""Arrow to pandas for Great Expectations, keeping each column's stored type visible.

pandas' default conversion is exact for most types, but it turns an integer column that holds
a null into float64 and a boolean one into object, so GX's type checks would judge the
conversion instead of what Spark wrote. Those types become nullable extension dtypes, but only
when a null is present: some GX checks are vectorized for numpy dtypes only and loop in Python
over extension dtypes, five times slower. Strings always stay Arrow-backed, which spares
building millions of Python string objects.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

_NULLABLE_DTYPES: dict[pa.DataType, Any] = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def to_frame(table: pa.Table) -> pd.DataFrame:
    # Decided per type, not per column: pandas converts a whole table in one pass only.
    with_nulls = {column.type for column in table.columns if column.null_count}
    return table.to_pandas(
        types_mapper=lambda arrow_type: _dtype(arrow_type, arrow_type in with_nulls)
    )


def gx_type_name(arrow_type: pa.DataType) -> str:
    """The type name GX's pandas type check observes for a column of ``arrow_type``.

    It is the same with or without nulls: a nullable dtype names its numpy scalar type.
    """
    dtype = _dtype(arrow_type, has_nulls=False) or arrow_type.to_pandas_dtype()
    return str(pd.api.types.pandas_dtype(dtype).type.__name__)


def _dtype(arrow_type: pa.DataType, has_nulls: bool) -> Any | None:
    """The dtype to convert to; None keeps pandas' default, which is exact for this type."""
    if pa.types.is_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return _NULLABLE_DTYPES.get(arrow_type) if has_nulls else None
