"""The packaged prior model (Splink JSON), made by ``python -m bench.matching.prior`` on the benchmark
generator (seed 11, 20,000 x 20,000). Generated: do not edit."""

MODEL = r'''{
 "crm_records": 20000,
 "nav_records": 20000,
 "seconds": 8.55,
 "settings": {
  "additional_columns_to_retain": [],
  "blocking_rules_to_generate_predictions": [
   {
    "blocking_rule": "l.e = r.e",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.mo = r.mo",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.ph = r.ph",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.mo = r.ph",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.ph = r.mo",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.f = r.f AND l.l = r.l",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.f = r.l AND l.l = r.f",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.fp = r.fp AND l.lp = r.lp",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.l = r.l AND l.post = r.post",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.f = r.f AND l.post = r.post",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.lp = r.lp AND l.post = r.post",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.f = r.l AND l.post = r.post",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.l = r.f AND l.post = r.post",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.post = r.post AND l.city = r.city AND l.fp = r.fp",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.post = r.post AND l.city = r.city AND l.lp = r.lp",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.post = r.post AND l.street2 = r.street2",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.street = r.street AND l.city = r.city",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.street = r.street AND l.post = r.post",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.l = r.l AND l.cn = r.cn",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.f = r.f AND l.cn = r.cn",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.l = r.f AND l.cn = r.cn",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.el = r.el AND length(l.el) >= 4",
    "sql_dialect": "duckdb"
   }
  ],
  "comparison_vector_value_column_prefix": "gamma_",
  "comparisons": [
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "f_l IS NULL OR f_r IS NULL"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same",
      "m_probability": 0.7625203693644756,
      "sql_condition": "f_l = f_r",
      "tf_adjustment_column": "f",
      "tf_adjustment_weight": 1.0,
      "u_probability": 0.000881795195954488
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same when transliterated (\u00fc/ue, \u00df/ss)",
      "m_probability": 0.00010863661053775124,
      "sql_condition": "fx_l = fx_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same, first and last swapped",
      "m_probability": 0.065536,
      "sql_condition": "f_l = l_r AND l_l = f_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "close, first and last swapped",
      "m_probability": 0.03052688756110809,
      "sql_condition": "jaro_winkler_similarity(f_l, l_r) >= 0.9 AND jaro_winkler_similarity(l_l, f_r) >= 0.9 OR f_l = l_r AND damerau_levenshtein(l_l, f_r) <= 2 OR l_l = f_r AND damerau_levenshtein(f_l, l_r) <= 2",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "initial or short form",
      "m_probability": 0.0032590983161325366,
      "sql_condition": "(length(f_l) = 1 OR length(f_r) = 1 OR least(length(f_l), length(f_r)) >= 3) AND (starts_with(f_l, f_r) OR starts_with(f_r, f_l))",
      "u_probability": 0.0003792667509481669
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "one typo",
      "m_probability": 0.1035306898424769,
      "sql_condition": "damerau_levenshtein(f_l, f_r) <= 1",
      "u_probability": 0.0005530973451327434
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "very similar",
      "m_probability": 0.000518331226295828,
      "sql_condition": "jaro_winkler_similarity(f_l, f_r) >= 0.9",
      "u_probability": 0.000518331226295828
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "sounds the same",
      "m_probability": 0.00143173198482933,
      "sql_condition": "fp_l = fp_r",
      "u_probability": 0.00143173198482933
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar",
      "m_probability": 0.004301517067003793,
      "sql_condition": "jaro_winkler_similarity(f_l, f_r) >= 0.8",
      "u_probability": 0.004301517067003793
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.0009686858012010114,
      "sql_condition": "ELSE",
      "u_probability": 0.9919342604298357
     }
    ],
    "output_column_name": "first"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "l_l IS NULL OR l_r IS NULL"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same",
      "m_probability": 0.7315589353612162,
      "sql_condition": "l_l = l_r",
      "tf_adjustment_column": "l",
      "tf_adjustment_weight": 1.0,
      "u_probability": 0.0006921618204804046
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same when transliterated (\u00fc/ue, \u00df/ss)",
      "m_probability": 0.00021727322107550245,
      "sql_condition": "lx_l = lx_r",
      "u_probability": 3.1605562579013908e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same, first and last swapped",
      "m_probability": 0.065536,
      "sql_condition": "l_l = f_r AND f_l = l_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "close, first and last swapped",
      "m_probability": 0.030418250950570346,
      "sql_condition": "jaro_winkler_similarity(l_l, f_r) >= 0.9 AND jaro_winkler_similarity(f_l, l_r) >= 0.9 OR l_l = f_r AND damerau_levenshtein(f_l, l_r) <= 2 OR f_l = l_r AND damerau_levenshtein(l_l, f_r) <= 2",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "one typo",
      "m_probability": 0.1377512221618686,
      "sql_condition": "damerau_levenshtein(l_l, l_r) <= 1",
      "u_probability": 0.0002560050568900126
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "very similar",
      "m_probability": 0.00028128950695322375,
      "sql_condition": "jaro_winkler_similarity(l_l, l_r) >= 0.9",
      "u_probability": 0.00028128950695322375
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "sounds the same",
      "m_probability": 0.0008944374209860935,
      "sql_condition": "lp_l = lp_r",
      "u_probability": 0.0008944374209860935
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar",
      "m_probability": 0.002759165613147914,
      "sql_condition": "jaro_winkler_similarity(l_l, l_r) >= 0.8",
      "u_probability": 0.002759165613147914
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.0009717908008059419,
      "sql_condition": "ELSE",
      "u_probability": 0.9951137800252845
     }
    ],
    "output_column_name": "last"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "e_l IS NULL OR e_r IS NULL"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same (ignoring case and spaces)",
      "m_probability": 0.898471936906588,
      "sql_condition": "e_l = e_r",
      "u_probability": 3.108593534125449e-05
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same name part, other domain",
      "m_probability": 0.065536,
      "sql_condition": "el_l = el_r AND length(el_l) >= 4",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar name part",
      "m_probability": 0.00015229190378288242,
      "sql_condition": "jaro_winkler_similarity(el_l, el_r) >= 0.9",
      "u_probability": 0.00015542967670627246
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.0009763803558476098,
      "sql_condition": "ELSE",
      "u_probability": 0.9998134843879525
     }
    ],
    "output_column_name": "email"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "(mo_l IS NULL OR mo_r IS NULL) AND (mo_l IS NULL OR ph_r IS NULL) AND (ph_l IS NULL OR mo_r IS NULL)"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same number",
      "m_probability": 0.9079938410462604,
      "sql_condition": "mo_l = mo_r",
      "u_probability": 2.494192095548936e-05
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same number (as phone)",
      "m_probability": 1e-06,
      "sql_condition": "mo_l = ph_r OR ph_l = mo_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.09200615895373923,
      "sql_condition": "ELSE",
      "u_probability": 0.9999750580790445
     }
    ],
    "output_column_name": "mobile"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "ph_l IS NULL OR ph_r IS NULL"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same number",
      "m_probability": 0.9999247658846556,
      "sql_condition": "ph_l = ph_r",
      "u_probability": 0.00016172506738544473
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.0009764045653638814,
      "sql_condition": "ELSE",
      "u_probability": 0.9998382749326146
     }
    ],
    "output_column_name": "phone"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "(street_l IS NULL OR street_r IS NULL) AND (post_l IS NULL OR post_r IS NULL) AND (city_l IS NULL OR city_r IS NULL)"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same",
      "m_probability": 0.9469021347502594,
      "sql_condition": "street_l = street_r AND (post_l = post_r OR city_l = city_r)",
      "u_probability": 0.0009843043362596435
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar street, same post code or city",
      "m_probability": 1e-06,
      "sql_condition": "jaro_winkler_similarity(street_l, street_r) >= 0.88 AND (post_l = post_r OR city_l = city_r)",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same street, other post code and city",
      "m_probability": 1e-06,
      "sql_condition": "street_l = street_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same post code and city, other street",
      "m_probability": 1e-06,
      "sql_condition": "post_l = post_r AND city_l = city_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same post code",
      "m_probability": 3.3253524873636605e-06,
      "sql_condition": "post_l = post_r",
      "u_probability": 3.3253524873636605e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same city",
      "m_probability": 0.00019952114924181964,
      "sql_condition": "city_l = city_r",
      "u_probability": 0.00019952114924181964
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar post code or city",
      "m_probability": 0.00032255919127427505,
      "sql_condition": "damerau_levenshtein(post_l, post_r) <= 1 OR jaro_winkler_similarity(city_l, city_r) >= 0.9",
      "u_probability": 0.00032255919127427505
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.05309786524416597,
      "sql_condition": "ELSE",
      "u_probability": 0.9984902899707369
     }
    ],
    "output_column_name": "address"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "street2_l IS NULL OR street2_r IS NULL"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same",
      "m_probability": 1e-06,
      "sql_condition": "street2_l = street2_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar",
      "m_probability": 1e-06,
      "sql_condition": "jaro_winkler_similarity(street2_l, street2_r) >= 0.88",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 1e-06,
      "sql_condition": "ELSE",
      "u_probability": 1e-06
     }
    ],
    "output_column_name": "street2"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "NOT (co_l IS NOT NULL AND co_r IS NOT NULL) AND (cn_l IS NULL OR cn_r IS NULL)"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same (coupled)",
      "m_probability": 0.9841477078740686,
      "sql_condition": "co_l = co_r",
      "u_probability": 0.0013211125158027813
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same name",
      "m_probability": 1e-06,
      "sql_condition": "cn_l = cn_r",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar name",
      "m_probability": 0.00038558786346396966,
      "sql_condition": "jaro_winkler_similarity(cn_l, cn_r) >= 0.9",
      "u_probability": 0.00038558786346396966
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.01585229212593102,
      "sql_condition": "ELSE",
      "u_probability": 0.9982932996207332
     }
    ],
    "output_column_name": "company"
   },
   {
    "comparison_description": "CustomComparison",
    "comparison_levels": [
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "is_null_level": true,
      "label_for_charts": "missing",
      "sql_condition": "job_l IS NULL OR job_r IS NULL"
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same",
      "m_probability": 0.8799520062358993,
      "sql_condition": "job_l = job_r",
      "u_probability": 0.03893805309734513
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar",
      "m_probability": 0.000711055853005294,
      "sql_condition": "jaro_winkler_similarity(job_l, job_r) >= 0.9",
      "u_probability": 0.00151090006475286
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.11933693791109508,
      "sql_condition": "ELSE",
      "u_probability": 0.959551046837902
     }
    ],
    "output_column_name": "job"
   }
  ],
  "em_convergence": 0.001,
  "link_type": "link_only",
  "linker_uid": "1q7hh2g8",
  "match_weight_column_prefix": "mw_",
  "max_iterations": 25,
  "probability_two_random_records_match": 3.490833333333333e-05,
  "retain_intermediate_calculation_columns": true,
  "retain_matching_columns": true,
  "source_dataset_column_name": "source_dataset",
  "sql_dialect": "duckdb",
  "term_frequency_adjustment_column_prefix": "tf_",
  "unique_id_column_name": "id"
 },
 "source": "prior",
 "trained_at": "2026-12-01T09:55:03"
}'''
