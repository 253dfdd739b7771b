"""The neural sequence models (``model.NeuralLSTM`` registered as ``neural``, ``model.NeuralAttention`` as
``neural-attn``).

``model`` is the estimator behind the Model protocol; ``nets`` the networks, ``train`` the training loop,
``explain`` the attributions, ``store`` the safetensors serialisation, ``data`` and ``batches`` the torch-free
encoding of histories. Importing this package does not import torch: only ``model``, ``nets``, ``train`` and
``explain`` do, so import the classes from ``studysmart.ml.neural.model``.
"""
