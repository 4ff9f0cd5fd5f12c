"""tinygrad_embed: a small reverse-mode autograd on numpy and numba that shows what Keras's Embedding
layer does (a gather of weight rows, whose gradient is a scatter-add), and trains the IMDB LSTM."""
from .tensor import Tensor, no_grad
from .ops import concatenate, stack
from . import fused_lstm  # registers the fused LSTM op (ops.OPS holds every op)
from .gradcheck import GradcheckError, gradcheck

__all__ = ["Tensor", "no_grad", "concatenate", "stack", "gradcheck", "GradcheckError"]
__version__ = "0.1.0"
from . import activations, callbacks, initializers, layers, losses, models, optimizers, utils, viz  # noqa: E402
from .preprocessing import sequence, text  # noqa: E402,F401  (Keras's module paths)
