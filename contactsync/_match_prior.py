"""The packaged prior model (Splink JSON), made by ``python -m bench.matching.prior`` on the benchmark
generator (seed 11, 20,000 x 20,000). Generated: do not edit."""

MODEL = r'''{
 "crm_records": 20000,
 "nav_records": 20000,
 "seconds": 4.88,
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
    "blocking_rule": "l.street = r.street AND l.post = r.post AND (jaro_winkler_similarity(l.f, r.f) >= 0.88 OR jaro_winkler_similarity(l.l, r.l) >= 0.88 OR jaro_winkler_similarity(l.f, r.l) >= 0.88 OR jaro_winkler_similarity(l.l, r.f) >= 0.88)",
    "sql_dialect": "duckdb"
   },
   {
    "blocking_rule": "l.street2 = r.street2 AND l.city = r.city",
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
      "m_probability": 0.7625203693644758,
      "sql_condition": "f_l = f_r",
      "tf_adjustment_column": "f",
      "tf_adjustment_weight": 1.0,
      "u_probability": 0.000922094923222459
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
      "m_probability": 0.0032590983161325375,
      "sql_condition": "(length(f_l) = 1 OR length(f_r) = 1 OR least(length(f_l), length(f_r)) >= 3) AND (starts_with(f_l, f_r) OR starts_with(f_r, f_l))",
      "u_probability": 0.0003726601244111492
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "one typo",
      "m_probability": 0.10353068984247696,
      "sql_condition": "damerau_levenshtein(f_l, f_r) <= 1",
      "u_probability": 0.000568545574422138
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "very similar",
      "m_probability": 0.0005637678805194309,
      "sql_condition": "jaro_winkler_similarity(f_l, f_r) >= 0.9",
      "u_probability": 0.0005637678805194309
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "sounds the same",
      "m_probability": 0.0014619743342283546,
      "sql_condition": "fp_l = fp_r",
      "u_probability": 0.0014619743342283546
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar",
      "m_probability": 0.004223481409993024,
      "sql_condition": "jaro_winkler_similarity(f_l, f_r) >= 0.8",
      "u_probability": 0.004223481409993024
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.0009686401130402378,
      "sql_condition": "ELSE",
      "u_probability": 0.9918874757532035
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
      "m_probability": 0.7315589353612174,
      "sql_condition": "l_l = l_r",
      "tf_adjustment_column": "l",
      "tf_adjustment_weight": 1.0,
      "u_probability": 0.000687987921989814
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same when transliterated (\u00fc/ue, \u00df/ss)",
      "m_probability": 0.00021727322107550247,
      "sql_condition": "lx_l = lx_r",
      "u_probability": 1e-06
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
      "m_probability": 0.13775122216186858,
      "sql_condition": "damerau_levenshtein(l_l, l_r) <= 1",
      "u_probability": 0.0002436623890380591
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "very similar",
      "m_probability": 0.0002627731646488873,
      "sql_condition": "jaro_winkler_similarity(l_l, l_r) >= 0.9",
      "u_probability": 0.0002627731646488873
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "sounds the same",
      "m_probability": 0.0009937603317630645,
      "sql_condition": "lp_l = lp_r",
      "u_probability": 0.0009937603317630645
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar",
      "m_probability": 0.002565621625753681,
      "sql_condition": "jaro_winkler_similarity(l_l, l_r) >= 0.8",
      "u_probability": 0.002565621625753681
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.000971920111881647,
      "sql_condition": "ELSE",
      "u_probability": 0.9952461945668065
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
      "m_probability": 0.8986374350728265,
      "sql_condition": "e_l = e_r",
      "u_probability": 4.208045783538125e-05
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same name part, private and work address",
      "m_probability": 0.065536,
      "sql_condition": "el_l = el_r AND length(el_l) >= 4 AND (ef_l OR ef_r)",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same name part, two company domains",
      "m_probability": 1e-06,
      "sql_condition": "el_l = el_r AND length(el_l) >= 4",
      "u_probability": 1e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar name part",
      "m_probability": 0.00015227666207043248,
      "sql_condition": "jaro_winkler_similarity(el_l, el_r) >= 0.9",
      "u_probability": 0.00015254165965325703
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.00097637243933839,
      "sql_condition": "ELSE",
      "u_probability": 0.9998053778825113
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
      "m_probability": 0.9080486751280513,
      "sql_condition": "mo_l = mo_r",
      "u_probability": 3.782352623331712e-05
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
      "m_probability": 0.0919513248719486,
      "sql_condition": "ELSE",
      "u_probability": 0.9999621764737667
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
      "m_probability": 0.9999261680674233,
      "sql_condition": "ph_l = ph_r",
      "u_probability": 0.00018277173333604106
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.000976384011979164,
      "sql_condition": "ELSE",
      "u_probability": 0.999817228266664
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
      "m_probability": 0.946943657487354,
      "sql_condition": "street_l = street_r AND (post_l = post_r OR city_l = city_r)",
      "u_probability": 0.0009478768566790025
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
      "m_probability": 5.0418981738244815e-06,
      "sql_condition": "post_l = post_r",
      "u_probability": 5.0418981738244815e-06
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "same city",
      "m_probability": 0.00016638263973620788,
      "sql_condition": "city_l = city_r",
      "u_probability": 0.00016638263973620788
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar post code or city",
      "m_probability": 0.00033780717764624025,
      "sql_condition": "damerau_levenshtein(post_l, post_r) <= 1 OR jaro_winkler_similarity(city_l, city_r) >= 0.9",
      "u_probability": 0.00033780717764624025
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.053056342512646536,
      "sql_condition": "ELSE",
      "u_probability": 0.9985428914277648
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
      "m_probability": 0.9842240426322265,
      "sql_condition": "co_l = co_r",
      "u_probability": 0.001390308925687749
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
      "m_probability": 0.0004156593695355126,
      "sql_condition": "jaro_winkler_similarity(cn_l, cn_r) >= 0.9",
      "u_probability": 0.0004156593695355126
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.015775957367773055,
      "sql_condition": "ELSE",
      "u_probability": 0.9981940317047767
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
      "m_probability": 0.8800016198327894,
      "sql_condition": "job_l = job_r",
      "u_probability": 0.03839832589605649
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "similar",
      "m_probability": 0.0007111155808295483,
      "sql_condition": "jaro_winkler_similarity(job_l, job_r) >= 0.9",
      "u_probability": 0.0032966087928678585
     },
     {
      "fix_m_probability": false,
      "fix_u_probability": false,
      "label_for_charts": "differs",
      "m_probability": 0.11928726458638104,
      "sql_condition": "ELSE",
      "u_probability": 0.9583050653110756
     }
    ],
    "output_column_name": "job"
   }
  ],
  "em_convergence": 0.001,
  "link_type": "link_only",
  "linker_uid": "pcpr9uo9",
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
 "trained_at": "2026-12-01T10:32:00"
}'''
