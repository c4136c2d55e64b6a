DROP TABLE digest_schedules;
