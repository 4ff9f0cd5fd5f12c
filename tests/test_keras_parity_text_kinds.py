"""pad_sequences refuses, as Keras 3's does, a list's value that the dtype cannot hold (OverflowError), and
otherwise gives Keras's array (needs the `parity` extra; Keras runs on its torch backend). Where Keras is
silent (it wraps an array's 300 to 44 in int8 and cuts a list's 1.5 to 1) this project refuses: those cases
are in tests/test_text_data_refusals.py and docs/nothing-silent.md."""
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

from tinygrad_embed.preprocessing.sequence import pad_sequences  # noqa: E402


def outcome(call):
    """("ok", the array as a list) or (the exception's type, None)."""
    try:
        return "ok", call().tolist()
    except (OverflowError, ValueError) as error:
        return type(error), None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-70000, 70000) | st.integers(-3, 300), max_size=5), min_size=1, max_size=4),
       st.sampled_from(["int8", "uint8", "int16", "int32"]), st.none() | st.integers(1, 5),
       st.sampled_from(["pre", "post"]), st.sampled_from(["pre", "post"]), st.sampled_from([0, -1, 300]))
def test_lists_of_ids_overflow_where_keras_does(sequences, dtype, maxlen, padding, truncating, value):
    kwargs = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)
    ours = outcome(lambda: pad_sequences(sequences, **kwargs))
    theirs = outcome(lambda: keras.utils.pad_sequences(sequences, **kwargs))
    assert ours == theirs
