"""tinygrad_embed: a small reverse-mode autograd on numpy and numba that shows what Keras's Embedding
layer does (a gather of weight rows, whose gradient is a scatter-add), and trains the IMDB LSTM.

It also stands in for `keras`: `import tinygrad_embed as keras`, then keras.Sequential, keras.Model,
keras.Input, keras.layers, keras.models, keras.optimizers, keras.losses, keras.callbacks,
keras.datasets.imdb, keras.utils, keras.ops and keras.backend, at Keras 3's places (Keras 2's module paths work too)."""
from .tensor import Tensor, no_grad
from .functions import concatenate, stack
from . import fused_gru, fused_lstm, fused_simple_rnn  # noqa: F401 (registers the fused recurrent ops in functions.OPS)
from .gradcheck import GradcheckError, gradcheck

__version__ = "0.1.0"
from . import activations, callbacks, datasets, initializers, layers, losses, metrics  # noqa: E402
from . import backend, models, ops, optimizers, utils, viz  # noqa: E402,F401
from .preprocessing import sequence, text  # noqa: E402,F401  (Keras 2's module paths)
from .layers import Input  # noqa: E402
from .missing import module_getattr  # noqa: E402
from .models import Model, Sequential  # noqa: E402

__all__ = ["Tensor", "no_grad", "concatenate", "stack", "gradcheck", "GradcheckError", "Input", "Model",
           "Sequential", "activations", "callbacks", "datasets", "initializers", "layers", "losses", "metrics",
           "models", "optimizers", "utils", "ops", "backend"]
__getattr__ = module_getattr(__name__, "top-level name", lambda: [n for n in __all__ if n[:1].isupper()])
