"""A stacked blend of models (``model.Stack``, registered as ``blend``): the candidate models' predictions combined
by coefficients fitted on a temporal hold-out (``blend``)."""

from studysmart.ml.stack.model import Stack

__all__ = ["Stack"]
