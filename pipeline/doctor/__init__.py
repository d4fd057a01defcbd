"""`invoke doctor`, the pure part: facts (facts.py) and the environment's needs (wanted.py) in, checks out
(checks.py; NSG flow evaluation in nsgflow.py). The reads live in pipeline/azure/doctor.py and
pipeline/bake/installed.py, the step in pipeline/steps/doctor.py."""
