"""LNIRT, van der Linden's joint model of accuracy and speed (``model.LNIRT`` registered as ``lnirt``,
``model.LNIRTGibbs`` as ``lnirt-gibbs``).

``model`` is the estimator behind the Model protocol, ``predictive`` its posterior predictive and online person
update, ``gibbs`` the sampler (imported by ``fit`` only), ``kernels`` its Numba passes (with NumPy references) and
``draws`` the conjugate draws. Importing this package loads neither the sampler nor Numba.
"""

from studysmart.ml.lnirt.model import LNIRT, LNIRTGibbs, auto_iterations

__all__ = ["LNIRT", "LNIRTGibbs", "auto_iterations"]
