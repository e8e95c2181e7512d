"""Splink (probabilistic record linkage, Fellegi-Sunter with EM) on DuckDB, on the same normalized
columns as contactsync's scorer (names without accents, e-mail lower-cased, phones E.164)."""

from __future__ import annotations

import logging
import time

import pandas as pd


def available() -> bool:
    try:
        import splink  # noqa: F401
    except ImportError:
        return False
    return True


def normalized(ws) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The normalized comparison columns contactsync prepares (the same input for both methods)."""
    from contactsync.matching import _arrow_table, prepared

    with ws.connection() as con:
        nav, crm = (_arrow_table(x).to_pandas() for x in prepared(con, ws.mapping))
    return nav, crm


def run(nav: pd.DataFrame, crm: pd.DataFrame, threshold: float = 0.5, one_to_one: bool = True
        ) -> tuple[pd.DataFrame, float]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    t = time.perf_counter()
    db = DuckDBAPI()
    left = db.register(nav.assign(fl=nav["f"].fillna("") + " " + nav["l"].fillna("")), table_name="nav")
    right = db.register(crm.assign(fl=crm["f"].fillna("") + " " + crm["l"].fillna("")), table_name="crm")
    settings = SettingsCreator(
        link_type="link_only", unique_id_column_name="id",
        comparisons=[
            cl.ForenameSurnameComparison("f", "l", forename_surname_concat_col_name="fl"),
            cl.EmailComparison("e"),
            cl.ExactMatch("ph"), cl.ExactMatch("mo"), cl.ExactMatch("cn"), cl.PostcodeComparison("post"),
            cl.LevenshteinAtThresholds("street", [1, 3]), cl.ExactMatch("city"), cl.ExactMatch("job"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("e"), block_on("ph"), block_on("mo"), block_on("f", "l"), block_on("l", "cn"),
            block_on("f", "cn"), block_on("l", "post"), block_on("f", "post"), block_on("el"),
            block_on("street", "city"),
        ],
    )
    linker = Linker([left, right], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("f", "l", "post")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("f", "l"))
    e_pairs = nav["e"].notna().sum() and crm["e"].notna().sum()
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("e") if e_pairs else block_on("street", "post"))
    pred = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    nav_left = pred["source_dataset_l"] == "nav"
    pred = pred.assign(nav_no=pred["id_l"].where(nav_left, pred["id_r"]),
                       crm_id=pred["id_r"].where(nav_left, pred["id_l"]))
    pred = pred[["nav_no", "crm_id", "match_probability"]]
    if one_to_one:  # the same rule contactsync applies: the unique best for both records
        best_n = pred.sort_values("match_probability", ascending=False).drop_duplicates("nav_no")
        best_c = pred.sort_values("match_probability", ascending=False).drop_duplicates("crm_id")
        pred = best_n.merge(best_c[["nav_no", "crm_id"]], on=["nav_no", "crm_id"])
    return pred, time.perf_counter() - t
