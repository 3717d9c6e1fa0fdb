"""One run's state and work: its context (project, output folder, store), its jobs and how they are paid for,
paced and retried, the script stage, readiness checks and progress events."""
