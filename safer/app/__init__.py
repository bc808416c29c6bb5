"""The application: the batch life cycle (land → stage → check → promote or quarantine), the
run, the backfill and the commands. The only layer that brings the stages together."""
