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
    """The normalized comparison tables contactsync's suggest_couplings builds (it runs first)."""
    with ws._store.connection() as con:
        cols = "id, f, l, e, ph, mo, street, post, city, job, co, n1, n2, el"
        return con.execute(f"SELECT {cols} FROM _sg_nav").df(), con.execute(f"SELECT {cols} FROM _sg_crm").df()


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
            cl.ExactMatch("ph"), cl.ExactMatch("mo"), cl.ExactMatch("co"), cl.ExactMatch("post"),
            cl.ExactMatch("job"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("e"), block_on("ph"), block_on("mo"), block_on("n1", "n2"), block_on("l", "co"),
            block_on("f", "co"), block_on("l", "post"), block_on("f", "post"), block_on("el"),
        ],
    )
    linker = Linker([left, right], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("e"), block_on("n1", "n2")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("n1", "n2"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("e"))
    pred = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    pred = pred.rename(columns={"id_l": "nav_no", "id_r": "crm_id"})
    if "source_dataset_l" in pred.columns and (pred["source_dataset_l"] == "crm").all():
        pred = pred.rename(columns={"nav_no": "crm_id", "crm_id": "nav_no"})
    pred = pred[["nav_no", "crm_id", "match_probability"]]
    if one_to_one:  # the same rule contactsync applies: the unique best for both records
        best_n = pred.sort_values("match_probability", ascending=False).drop_duplicates("nav_no")
        best_c = pred.sort_values("match_probability", ascending=False).drop_duplicates("crm_id")
        pred = best_n.merge(best_c[["nav_no", "crm_id"]], on=["nav_no", "crm_id"])
    return pred, time.perf_counter() - t
