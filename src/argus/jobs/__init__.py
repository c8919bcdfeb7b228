"""Background and periodic jobs: plain task functions, run by Celery or by the in-process scheduler."""
