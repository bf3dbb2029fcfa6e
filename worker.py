"""The worker: runs NOPIC request workflows and their activities on the configured task queue."""
