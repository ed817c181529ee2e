import gzip

from training.data import dictionary

ENTRY = """00-database-short
   The Collaborative International Dictionary of English v.0.48

Coagulate \\Co*ag"u*late\\, a. [L. coagulatus, p. p. of coagulare
   to coagulate. See {Cogent}.]
   Coagulated. [Obs.] --Shak.
   [1913 Webster]

Bitter cress \\Bit"ter cress\\, n.
   1. (Bot.) A plant of the genus {Cardamine}; as, the bitter
      cress of wet meadows. "Great barkers are no biters." --Boyle.
      [1913 Webster]

   Syn: To thicken; concrete; curdle; clot; congeal.

   Note: Coagulation is generally the change of an albuminous body.
"""


def _write(tmp_path, text):
    path = tmp_path / "gcide.dict.dz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(text)
    return path


def test_prose_is_kept_and_markup_dropped(tmp_path):
    dictionary.sentences.cache_clear()
    assert dictionary.sentences(_write(tmp_path, ENTRY)) == (
        "Coagulated.",  # the etymology's tail, [Obs.] and --Shak. are gone
        "(Bot.) A plant of the genus Cardamine;",  # braces gone, "1." gone
        "as, the bitter cress of wet meadows.",
        '"Great barkers are no biters."',
        "Coagulation is generally the change of an albuminous body.",  # a note, not Syn:
    )


def test_missing_dictionary_gives_no_text(tmp_path, caplog):
    dictionary.sentences.cache_clear()
    assert dictionary.sentences(tmp_path / "absent.dict.dz") == ()
    assert "dict-gcide" in caplog.text
