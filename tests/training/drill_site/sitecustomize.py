"""Put on PYTHONPATH of a server under test: registers the test-only slow model in every process it starts
(the web server and the training consumer it execs alike)."""

from studysmart.ml import base

base.MODELS.setdefault("slow-test", "tests.training.slow_model:SlowModel")
