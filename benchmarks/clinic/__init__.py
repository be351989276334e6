"""The clinic: labelled training scenarios that measure the doctor (``python benchmarks/clinic/run.py``)."""
