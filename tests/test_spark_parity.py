"""The revenue engine gives the same answers on PySpark (local mode) as on DuckDB.

The bundled sample book is imported into a DuckDB store with the ordinary file
importer; its contract lines and accounts are then copied into Spark temp views with
the same column types, and the unchanged engine functions run on both backends.
Runs when PySpark is importable and ``java`` is on PATH (CI installs both:
``pip install -e '.[test,spark]'`` plus a Java 17 runtime).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil

import pytest

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="PySpark is not installed: pip install -e '.[spark]'"),
    pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH: install a Java 17 runtime"),
]

CONTRACT_COLUMNS = ("contract_id", "account_id", "start_date", "end_date", "mrr", "currency")
ACCOUNT_COLUMNS = ("account_id", "segment", "industry", "owner", "icp_tier")
PERIOD, AS_OF = "2026-Q3", dt.date(2026, 10, 31)
#: A few hundred rows: interpreting plans beats compiling them, and a C1-only JIT warms up
#: fastest; one core and one shuffle partition avoid task overhead. Keeps the test well under a minute.
FAST_SMALL_DATA = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    """(contracts, accounts) Ibis tables on DuckDB: the sample book imported into a store."""
    from connectors.files import import_dir
    from engine.settings import RevenueSettings
    from engine.store import Store
    from nrr.project import copy_sample

    base = tmp_path_factory.mktemp("spark-parity")
    store = Store(base / "nrr.duckdb")
    import_dir(store, copy_sample(base / "data"), RevenueSettings())
    contracts = store.records("contracts", ["files"]).select(*CONTRACT_COLUMNS)
    accounts = store.records("accounts", ["files"]).select(*ACCOUNT_COLUMNS)
    yield contracts, accounts
    store.close()


@pytest.fixture(scope="module")
def spark(duck, tmp_path_factory):
    """The same two tables as Spark temp views, read through the Ibis PySpark backend."""
    import ibis
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    builder = SparkSession.builder.master("local[1]").appName("nrr-spark-parity")
    for key, value in {**FAST_SMALL_DATA, "spark.sql.warehouse.dir": str(warehouse)}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    con = ibis.pyspark.connect(session)
    tables = []
    for name, table in zip(("contract_lines", "accounts"), duck):
        arrow = table.to_pyarrow()
        frame = session.createDataFrame(arrow.to_pandas(), schema=_spark_schema(table.schema()))
        frame.createOrReplaceTempView(name)
        tables.append(con.table(name))
    yield tuple(tables)
    session.stop()


def _spark_schema(schema):
    from pyspark.sql import types as T

    def field(name, dtype):
        if dtype.is_decimal():
            return T.StructField(name, T.DecimalType(dtype.precision, dtype.scale))
        return T.StructField(name, T.DateType() if dtype.is_date() else T.StringType())

    return T.StructType([field(n, t) for n, t in schema.items()])


def test_every_metric_equals_duckdb(duck, spark):
    from engine.revenue import churn_timing, cohort_matrix, compute_metrics, quarterly_series
    from engine.settings import RevenueSettings

    settings = RevenueSettings()
    runs = {
        "metrics by segment": lambda c, a: compute_metrics(c, a, settings, PERIOD, by="segment"),
        "quarterly series": lambda c, a: quarterly_series(c, a, settings, PERIOD, n=2),
        "churn timing": lambda c, a: churn_timing(c, settings, PERIOD),
        "cohorts": lambda c, a: cohort_matrix(c, settings, AS_OF, "quarter").to_dict(),
    }
    for name, run in runs.items():
        on_duckdb, on_spark = run(*duck), run(*spark)
        assert on_spark == on_duckdb, name
    # the sample must exercise the figures being compared
    metrics = runs["metrics by segment"](*duck)
    assert metrics["waterfall"]["churn"] > 0 and metrics["waterfall"]["new"] > 0 and len(metrics["by"]) >= 3
