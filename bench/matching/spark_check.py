"""The same trained model on Spark (Splink's SparkAPI): ``python -m bench.matching.spark_check [febrl1]``.

Trains on a labelled set with DuckDB as ``suggest_couplings`` does, then scores the same prepared tables
on a local Spark session with the model rewritten by :func:`contactsync.linkage.for_dialect`, and
compares the two sets of match weights. For a workspace that outgrows one machine, the prepared NAV and
CRM tables (``contactsync.matching.prepared``) go to the cluster as Parquet and the same steps run there.
Needs ``pyspark`` and a Java runtime (not part of any extra: too big for the test suite).
"""

from __future__ import annotations

import sys
import time

from contactsync import linkage
from contactsync.matching import _arrow_table, prepared

from .evaluate import workspace
from .febrl import benchmark


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = argv[0] if argv else "febrl1"
    from pyspark.sql import SparkSession
    from splink import Linker, SparkAPI
    from splink.backends.spark import similarity_jar_location

    b = benchmark(name)
    ws = workspace(b)
    matcher = ws.train_matcher()
    with ws.connection() as con:
        nav, crm = (_arrow_table(x).to_pandas() for x in prepared(con, ws.mapping))
    sc = linkage.session(nav, crm)
    duck = sc.sql(f"SELECT id_l, id_r, match_weight FROM {linkage.predict(sc, matcher)}").df()
    t = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").config("spark.jars", similarity_jar_location())
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    import tempfile

    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="contactsync-spark-"))
    api = SparkAPI(spark_session=spark)
    left = api.register(spark.createDataFrame(nav), table_name="nav_t")
    right = api.register(spark.createDataFrame(crm), table_name="crm_t")
    settings = linkage.for_dialect(matcher.settings, "spark")
    pred = Linker([left, right], settings, log_level=None).inference.predict(threshold_match_weight=-8)
    spdf = pred.as_pandas_dataframe()
    sp = spdf[["id_l", "id_r", "match_weight"]]
    sec = time.perf_counter() - t
    # the decisions (one-to-one, margin, look-alikes) over Spark's scores, in DuckDB as for 10M x 10M: the
    # scored pairs are few (blocking), so they fit one machine even when the records do not
    duck_dec = _decisions(sc, linkage.predict(sc, matcher))
    sc.register("spark_pred_df", spdf)
    sc.execute("CREATE TABLE spark_pred AS SELECT * FROM spark_pred_df")
    spark_dec = _decisions(sc, "spark_pred")
    j = duck.merge(sp, on=["id_l", "id_r"], how="outer", suffixes=("_duckdb", "_spark"))
    both = j.dropna()
    diff = (both["match_weight_duckdb"] - both["match_weight_spark"]).abs()
    print(f"{name}: DuckDB {len(duck)} pairs, Spark {len(sp)} pairs ({sec:.1f} s), in both {len(both)}; "
          f"largest weight difference {diff.max():.4f} bits, median {diff.median():.4f}; suggested: DuckDB "
          f"{len(duck_dec)}, Spark {len(spark_dec)}, in both {len(duck_dec & spark_dec)}")
    spark.stop()
    return 0


def _decisions(sc, pred: str) -> set:
    linkage.decide(sc, pred, 0.5)
    return set(sc.execute("SELECT nav_no, crm_id FROM _dec WHERE suggested").fetchall())


if __name__ == "__main__":
    raise SystemExit(main())
