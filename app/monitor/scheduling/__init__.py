"""Running the schedule: RQ cron scheduler + workers with Redis, an in-process scheduler without."""
