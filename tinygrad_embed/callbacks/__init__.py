"""Callbacks: Keras 3's protocol of hooks into fit, evaluate and predict, the list that dispatches them,
and the callbacks Keras users reach for, all importable from here as from keras.callbacks. One idea a
module: the protocol (base), the callbacks that act on a run (monitors), the backup of a run (backup),
those that write its logs out (loggers), and GradientStats."""
from __future__ import annotations

from ..missing import module_getattr
from .backup import BackupAndRestore
from .base import HOOKS, Callback, CallbackList, History, LambdaCallback, TerminateOnNaN
from .gradient_stats import GradientStats
from .loggers import CSVLogger, TensorBoard
from .monitors import EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau

__all__ = ["Callback", "CallbackList", "HOOKS", "History", "TerminateOnNaN", "LambdaCallback", "EarlyStopping",
           "ReduceLROnPlateau", "LearningRateScheduler", "ModelCheckpoint", "BackupAndRestore", "CSVLogger",
           "TensorBoard", "GradientStats"]

__getattr__ = module_getattr(__name__, "callback", lambda: [n for n, v in globals().items() if not n.startswith("_")
                                                            and isinstance(v, type) and issubclass(v, Callback)])
